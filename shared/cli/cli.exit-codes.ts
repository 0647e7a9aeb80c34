import type { Command } from 'commander';
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
  options: { provision: boolean },
): Promise<AppServices | ExitCode> {
  let services: AppServices | undefined;
  try {
    services = await createAppServices(io.env, overrides);
    // Dataverse settings are read on first use; a command that will use them checks them now.
    services.dataverse();
    if (options.provision) {
      const report = await provisionCosmos(services.cosmos, services.env.COSMOS_DATABASE, 'create');
      const created = report.containers.filter((c) => c.state === 'created').map((c) => c.id);
      if (created.length > 0) io.err(`${command}: created ${report.database}/${created.join(', ')}`);
    } else {
      await services.assertProvisioned();
    }
    return services;
  } catch (error) {
    await services?.close();
    if (error instanceof ConfigError) {
      io.err(`${command}: ${error.message}`);
      return EXIT.usage;
    }
    io.err(`${command}: could not start: ${describeError(error)}`);
    return EXIT.failed;
  }
}

/**
 * A command that does its work once and exits (`--once`; the continuous sync is the Functions app's),
 * on a database it may create first (`--provision`).
 */
export function oneShotCommand(program: Command, name: string, description: string, once: string): Command {
  return program
    .command(name)
    .description(description)
    .option('--once', once)
    .option('--provision', 'create the Cosmos DB database and containers first if they are missing');
}

/** Exit code 2 with the reason when `--once` is missing; undefined when the command may run. */
export function refuseWithoutOnce(
  name: string,
  options: { once?: boolean },
  io: CommandIo,
): ExitCode | undefined {
  if (options.once === true) return undefined;
  io.err(
    `${name}: only --once is supported here; the continuous ${name} runs on Azure Functions (npm start locally)`,
  );
  return EXIT.usage;
}
