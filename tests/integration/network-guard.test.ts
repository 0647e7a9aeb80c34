import http from 'node:http';
import net from 'node:net';
import { connectTarget, isLoopback } from './network-guard';

// Only argument shapes are checked for other hosts: a real attempt would send traffic if the guard broke.
describe('network guard', () => {
  const noop = () => undefined;

  it('reads the target from every argument shape net.Socket#connect receives', () => {
    // http.Agent and fetch: net.createConnection's normalised array, with the URL path in the options.
    expect(
      connectTarget([
        [{ protocol: 'http:', host: '169.254.169.254', port: 80, path: null, href: 'x' }, noop],
      ]),
    ).toEqual({ kind: 'tcp', host: '169.254.169.254' });
    expect(connectTarget([[{ host: '10.1.2.3', port: 443, path: '/metadata' }, noop]])).toEqual({
      kind: 'tcp',
      host: '10.1.2.3',
    });
    expect(connectTarget([{ host: 'example.org', port: 80 }])).toEqual({ kind: 'tcp', host: 'example.org' });
    expect(connectTarget([80, 'example.org'])).toEqual({ kind: 'tcp', host: 'example.org' });
    expect(connectTarget([80])).toEqual({ kind: 'tcp', host: 'localhost' });
    expect(connectTarget([{ port: 80 }])).toEqual({ kind: 'tcp', host: 'localhost' });
    expect(connectTarget([{ path: '/tmp/socket' }])).toEqual({ kind: 'ipc' });
    expect(connectTarget(['/tmp/socket'])).toEqual({ kind: 'ipc' });
  });

  it('allows only loopback hosts', () => {
    for (const host of ['127.0.0.1', '127.0.0.2', 'localhost', '::1']) expect(isLoopback(host)).toBe(true);
    for (const host of ['169.254.169.254', '10.0.0.1', '192.168.1.1', 'example.org', '128.0.0.1']) {
      expect(isLoopback(host)).toBe(false);
    }
  });

  it('is installed on sockets and lets loopback through', async () => {
    expect(net.Socket.prototype.connect.name).toBe('guardedConnect');
    const server = http.createServer((_req, res) => res.end('ok'));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
    const { port } = server.address() as net.AddressInfo;
    expect(await (await fetch(`http://127.0.0.1:${port}/`)).text()).toBe('ok');
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
});
