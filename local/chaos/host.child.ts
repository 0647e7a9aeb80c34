import { startLocalHost } from '../host/local-host';

// The functions host of a chaos run, in a process of its own so that it can be killed with SIGKILL
// like a worker the platform recycles. Settings come from the environment; warnings and errors are
// written to stdout, one line each, for the run's log.

async function main(): Promise<void> {
  const line = (text: string) => process.stdout.write(`${text.replace(/\s+/g, ' ')}\n`);
  const host = await startLocalHost({
    env: { ...process.env },
    httpPort: 0,
    log: (entry) => {
      if (entry.level === 'error' || entry.level === 'warning')
        line(`[${entry.functionName}] ${entry.level} ${entry.message}`);
    },
    onError: (name, error) => line(`[${name}] failed: ${String(error)}`),
  });
  line(`READY ${JSON.stringify({ httpPort: host.httpPort })}`);
  const stop = () => {
    host.stop().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.on('SIGTERM', stop);
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? (error.stack ?? error.message) : String(error));
  process.exit(1);
});
