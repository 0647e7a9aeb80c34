/**
 * Runs a benchmark's main and ends the process with it: 0 when it is done, 1 (error printed) when it
 * failed, whatever sockets or timers are still open.
 */
export function runThenExit(main: () => Promise<void>): void {
  main().then(
    () => process.exit(0),
    (error: unknown) => {
      console.error(error);
      process.exit(1);
    },
  );
}
