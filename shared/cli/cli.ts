import { Command, CommanderError } from 'commander';
import { loadEnv, type ConfigSection } from '../config/env.schema';
import { buildCatalog, loadSyncConfig } from '../config/sync-config.schema';
import { createCosmosClient } from '../cosmos/cosmos.client';
import { provisionCosmos } from '../cosmos/cosmos.provisioning';
import { pushCommand } from './push.command';
import { syncCommand, type SyncCommandIo } from './sync.command';
import { ConfigError } from '../config/config.errors';
import { describeError } from '../errors/app.errors';
import { EXIT, registerOneShot } from './command.support';
import { registerOperationCommands } from './operations.commands';
import { registerVerifyCommand } from './verify.command';
import { registerRealtimeCommand } from './realtime.command';

export interface CliIo extends SyncCommandIo {
  env: Record<string, string | undefined>;
  out: (line: string) => void;
  err: (line: string) => void;
}

const defaultIo: CliIo = {
  env: process.env,
  out: (line) => process.stdout.write(`${line}\n`),
  err: (line) => process.stderr.write(`${line}\n`),
  stderr: process.stderr,
};

/** Returns the exit code instead of exiting, so tests can run commands in-process. */
export async function main(argv: readonly string[], io: CliIo = defaultIo): Promise<number> {
  let code = 0;
  const program = new Command()
    .name('dynamics-sync')
    .description('Dynamics 365 <-> marketing database sync: operations from the command line')
    .exitOverride()
    .configureOutput({ writeOut: (s) => io.out(s.trimEnd()), writeErr: (s) => io.err(s.trimEnd()) });

  program
    .command('config')
    .description('validate the environment and the SYNC_CONFIG file, naming every problem')
    .argument('[action]', 'only "check" for now', 'check')
    .action(async () => {
      const sections: ConfigSection[] = ['dataverse', 'cosmos', 'serviceBus', 'sync', 'notify'];
      const problems: string[] = [];
      for (const section of sections) {
        try {
          loadEnv(io.env, [section]);
        } catch (error) {
          problems.push(
            (error instanceof ConfigError ? error.message : describeError(error)).replace(
              /^Invalid configuration:\n/,
              '',
            ),
          );
        }
      }
      try {
        const sync = loadEnv(io.env, ['sync']);
        buildCatalog(await loadSyncConfig(sync.SYNC_CONFIG)).enabled(sync.SYNC_ENTITIES);
      } catch (error) {
        problems.push(`  ${describeError(error)}`);
      }
      if (problems.length > 0) {
        io.err(`Configuration has problems:\n${problems.join('\n')}`);
        code = EXIT.usage;
      } else {
        io.out('Configuration is valid.');
      }
    });

  program
    .command('provision')
    .description('create (or with --verify, only check) the Cosmos DB database and containers')
    .option('--verify', 'check only; for Azure, where the infrastructure creates the containers')
    .action(async (options: { verify?: boolean }) => {
      const env = loadEnv(io.env, ['cosmos']);
      const client = createCosmosClient(env);
      try {
        const report = await provisionCosmos(
          client,
          env.COSMOS_DATABASE,
          options.verify === true ? 'verify' : 'create',
        );
        for (const c of report.containers)
          io.out(`${report.database}/${c.id} (${c.partitionKey}): ${c.state}`);
      } finally {
        client.dispose();
      }
    });

  const setExitCode = (exitCode: number) => void (code = exitCode);
  registerOneShot(program, syncCommand(io), io, setExitCode);
  registerOneShot(program, pushCommand(io), io, setExitCode);
  registerOperationCommands(program, io, setExitCode);
  registerVerifyCommand(program, io, setExitCode);
  registerRealtimeCommand(program, io, setExitCode);

  try {
    await program.parseAsync([...argv], { from: 'node' });
  } catch (error) {
    // Help and version end with 0; anything commander refuses is a usage error.
    if (error instanceof CommanderError) return error.exitCode === 0 ? EXIT.ok : EXIT.usage;
    if (error instanceof ConfigError) {
      io.err(`dynamics-sync: ${error.message}`);
      return EXIT.usage;
    }
    io.err(`dynamics-sync: ${describeError(error)}`);
    return EXIT.failed;
  }
  return code;
}
