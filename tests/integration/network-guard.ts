/** Where a `net.Socket#connect` call would go, from any of its argument shapes. */
export type ConnectTarget = { kind: 'tcp'; host: string } | { kind: 'ipc' };

export function connectTarget(args: readonly unknown[]): ConnectTarget {
  // net.connect / net.createConnection (used by http agents and fetch) pass one normalised array.
  const first = Array.isArray(args[0]) ? (args[0] as unknown[])[0] : args[0];
  if (typeof first === 'number')
    return { kind: 'tcp', host: typeof args[1] === 'string' ? args[1] : 'localhost' };
  if (typeof first === 'string') return { kind: 'ipc' };
  if (typeof first === 'object' && first !== null) {
    const options = first as { host?: unknown; port?: unknown; path?: unknown };
    // An http request's options carry the URL path too, so only a port-less path is a local socket.
    if (options.port === undefined && options.host === undefined && typeof options.path === 'string') {
      return { kind: 'ipc' };
    }
    return { kind: 'tcp', host: typeof options.host === 'string' ? options.host : 'localhost' };
  }
  return { kind: 'tcp', host: 'localhost' };
}

export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || host.startsWith('127.') || host === '0.0.0.0';
}
