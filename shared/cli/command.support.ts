import { type Command, InvalidArgumentError } from 'commander';
import { createAppServices, type AppOverrides, type AppServices } from '../app/app.services';
import { ConfigError } from '../config/config.errors';
import { provisionCosmos } from '../cosmos/cosmos.provisioning';
import { describeError } from '../errors/app.errors';

/**
 * Every command's exit code: 0 the work is done; 1 the work failed or found problems (errors
 * recorded, edits still pending, drift found); 2 bad usage or configuration, an unprovisioned
 * database included: nothing was attempted, and the message says what to fix.
 */
export const EXIT = { ok: 0, failed: 1, usage: 2 } as const;
export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

export interface CommandIo {
  env: Record<string, string | undefined>;
  out: (line: string) => void;
  err: (line: string) => void;
}

/**
 * Opens the app's services for a one-shot command, checking first what would make every job fail:
 * the settings, the Dataverse connection settings, the Cosmos database and its containers (created
 * first when the user asked for --provision). A problem is printed and answered with exit code 2.
 */
export async function openServices(
  command: string,
  io: CommandIo,
  overrides: AppOverrides,
  options: { provision: boolean; dataverse?: boolean; assertProvisioned?: boolean },
): Promise<AppServices | ExitCode> {
  let services: AppServices | undefined;
  try {
    services = await createAppServices(io.env, overrides);
    // Dataverse settings are read on first use; a command that will use them checks them now.
    if (options.dataverse !== false) services.dataverse();
    if (options.provision) {
      const report = await provisionCosmos(services.cosmos, services.env.COSMOS_DATABASE, 'create');
      const created = report.containers.filter((c) => c.state === 'created').map((c) => c.id);
      if (created.length > 0) io.err(`${command}: created ${report.database}/${created.join(', ')}`);
    } else if (options.assertProvisioned !== false) {
      await services.assertProvisioned();
    }
    return services;
  } catch (error) {
    await services?.close();
    if (error instanceof ConfigError) {
      const hint =
        error.code === 'invalid_config'
          ? '\nSet them in the environment (the README lists every setting); `dynamics-sync config check` reports all problems at once.'
          : '';
      io.err(`${command}: ${error.message}${hint}`);
      return EXIT.usage;
    }
    io.err(`${command}: could not start: ${describeError(error)}`);
    return EXIT.failed;
  }
}

/** A command that does its work once and exits (`--once`; the continuous work is the Functions app's). */
export interface OneShotCommand<Options extends { once?: boolean }> {
  name: string;
  description: string;
  /** Help for `--once`: what "once" does for this command. */
  once: string;
  /** The command's own options. */
  options(command: Command): Command;
  /** Runs with `--once` given; answers the exit code. */
  run(options: Options): Promise<number>;
}

/**
 * Registers a one-shot command with `--once` and `--provision` (create the database it works on
 * first); without `--once` it refuses with exit code 2 and says where the continuous work runs.
 */
export function registerOneShot<Options extends { once?: boolean }>(
  program: Command,
  spec: OneShotCommand<Options>,
  io: CommandIo,
  setExitCode: (code: number) => void,
): void {
  spec
    .options(
      program
        .command(spec.name)
        .description(spec.description)
        .option('--once', spec.once)
        .option('--provision', 'create the Cosmos DB database and containers first if they are missing'),
    )
    .action(async (options: Options) => {
      if (options.once === true) return setExitCode(await spec.run(options));
      io.err(
        `${spec.name}: only --once is supported here; the continuous ${spec.name} runs on Azure Functions (npm start locally)`,
      );
      setExitCode(EXIT.usage);
    });
}

/** An option parser for a whole number in a range; anything else is a usage error that says so. */
export const wholeNumber =
  (min: number, max: number, unit = '') =>
  (value: string): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < min || n > max) {
      throw new InvalidArgumentError(`must be a whole number${unit ? ` of ${unit}` : ''}, ${min}-${max}`);
    }
    return n;
  };
