// Integration tests may only talk to this machine. Any attempt to reach another host fails the
// test loudly instead of leaking traffic (Application Insights probes, SDK discovery, typos).
import net from 'node:net';

const loopback = (host: string | undefined): boolean =>
  host === undefined ||
  host === 'localhost' ||
  host === '::1' ||
  host.startsWith('127.') ||
  host === '0.0.0.0';

const originalConnect = net.Socket.prototype.connect;
net.Socket.prototype.connect = function guardedConnect(this: net.Socket, ...args: unknown[]) {
  const first = args[0];
  let host: string | undefined;
  if (typeof first === 'object' && first !== null && !Array.isArray(first)) {
    const options = first as { host?: string; path?: string };
    if (options.path === undefined) host = options.host ?? 'localhost';
  } else if (typeof first === 'number') {
    host = typeof args[1] === 'string' ? args[1] : 'localhost';
  }
  if (!loopback(host)) {
    throw new Error(`network guard: tests may only connect to loopback, not ${String(host)}`);
  }
  return (originalConnect as (...a: unknown[]) => net.Socket).apply(this, args);
} as typeof net.Socket.prototype.connect;
