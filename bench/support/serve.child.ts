// Shared by the stand-in children: announce readiness, then run until SIGTERM or stdin closes.

export function serveUntilStopped(info: unknown, close: () => Promise<void>): void {
  process.stdout.write(`READY ${JSON.stringify(info)}\n`);
  const stop = () => {
    close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.on('SIGTERM', stop);
  process.stdin.on('end', stop);
  process.stdin.resume();
}

export function runChild(main: () => Promise<void>): void {
  main().catch((error: unknown) => {
    console.error(error);
    process.exit(1);
  });
}
