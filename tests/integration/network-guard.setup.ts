// Integration tests may only talk to this machine. Any attempt to reach another host fails the
// test loudly instead of leaking traffic (Application Insights probes, SDK discovery, typos).
import net from 'node:net';
import { connectTarget, isLoopback } from './network-guard';

const originalConnect = net.Socket.prototype.connect;
net.Socket.prototype.connect = function guardedConnect(this: net.Socket, ...args: unknown[]) {
  const target = connectTarget(args);
  if (target.kind === 'tcp' && !isLoopback(target.host)) {
    throw new Error(`network guard: tests may only connect to loopback, not ${target.host}`);
  }
  return (originalConnect as (...a: unknown[]) => net.Socket).apply(this, args);
} as typeof net.Socket.prototype.connect;
