import Module from 'node:module';
import path from 'node:path';

const SHIM = path.join(__dirname, 'functions-core.shim');

/**
 * Makes `require('@azure/functions-core')` resolve to the local shim in a plain Node process.
 * (Jest gets the same mapping from `moduleNameMapper`.) Must run before any function module loads.
 */
export function installFunctionsCore(): void {
  const mod = Module as unknown as {
    _resolveFilename: (request: string, ...rest: unknown[]) => string;
    __functionsCoreInstalled?: boolean;
  };
  if (mod.__functionsCoreInstalled) return;
  const original = mod._resolveFilename;
  mod._resolveFilename = function resolve(request: string, ...rest: unknown[]): string {
    if (request === '@azure/functions-core') return original.call(this, SHIM, ...rest);
    return original.call(this, request, ...rest);
  };
  mod.__functionsCoreInstalled = true;
}
