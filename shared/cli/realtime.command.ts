import type { Command } from 'commander';
import { ConfigError } from '../config/config.errors';
import { loadEnv } from '../config/env.schema';
import { buildCatalog, loadSyncConfig } from '../config/sync-config.schema';
import { createDataverseConnection } from '../dataverse';
import { DataverseWebhookRegistry } from '../dataverse/webhook.registry';
import type { StepKey } from '../domain/webhook-registration.rules';
import { describeError } from '../errors/app.errors';
import { dataverseAuth } from '../app/app.services';
import { acceptedSecrets } from '../app/notify.route';
import { RealtimeRegistration } from '../sync/realtime.use-case';
import { EXIT, type CommandIo } from './command.support';

const listed = (steps: readonly StepKey[]): string =>
  steps.length === 0 ? 'none' : steps.map((s) => `${s.message} ${s.table}`).join(', ');

/** The function URL Dataverse posts to: https, or http only to this machine (the local stack). */
function notifyUrl(value: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new ConfigError('invalid_config', `--url: "${value.slice(0, 200)}" is not a URL`);
  }
  const local = url.hostname === '127.0.0.1' || url.hostname === 'localhost';
  if (url.protocol !== 'https:' && !(local && url.protocol === 'http:'))
    throw new ConfigError('invalid_config', '--url: must be https:// (Dataverse posts only to https)');
  if (url.search !== '' || url.username !== '' || url.password !== '')
    throw new ConfigError(
      'invalid_config',
      '--url: give the address without a query or credentials; the secret is sent in a header',
    );
  return url.toString();
}

async function registration(io: CommandIo): Promise<{ realtime: RealtimeRegistration; secret?: string }> {
  const env = loadEnv(io.env, ['dataverse', 'sync', 'notify']);
  const catalog = buildCatalog(await loadSyncConfig(env.SYNC_CONFIG));
  catalog.enabled(env.SYNC_ENTITIES);
  const connection = createDataverseConnection({
    auth: dataverseAuth(env),
    governor: { maxConcurrency: env.DATAVERSE_MAX_CONCURRENCY },
  });
  const [secret] = acceptedSecrets(env.NOTIFY_SECRET);
  return {
    realtime: new RealtimeRegistration(new DataverseWebhookRegistry(connection.client), env.SYNC_ENTITIES),
    ...(secret !== undefined ? { secret } : {}),
  };
}

async function guarded(name: string, io: CommandIo, run: () => Promise<number>): Promise<number> {
  try {
    return await run();
  } catch (error) {
    if (error instanceof ConfigError) {
      io.err(`${name}: ${error.message}`);
      return EXIT.usage;
    }
    io.err(`${name}: ${describeError(error)}`);
    return EXIT.failed;
  }
}

/**
 * `dynamics-sync realtime enable|disable|status`: registers Dataverse's webhook for the synced
 * tables (docs/realtime.md). Needs only the Dataverse settings, SYNC_ENTITIES and, to enable,
 * NOTIFY_SECRET; the application user needs the rights to write service endpoints and steps.
 */
export function registerRealtimeCommand(
  program: Command,
  io: CommandIo,
  setExitCode: (code: number) => void,
): void {
  const realtime = program
    .command('realtime')
    .description('register, remove or list the Dataverse webhook that makes the sync start within seconds');

  realtime
    .command('enable')
    .description(
      'register the webhook endpoint and its steps for every synced table (again: changes nothing)',
    )
    .requiredOption('--url <url>', 'the notify function URL (Terraform output NOTIFY_URL)')
    .option('--update-secret', 'send NOTIFY_SECRET to Dataverse again (after rotating it)')
    .action(async (options: { url: string; updateSecret?: boolean }) =>
      setExitCode(
        await guarded('realtime enable', io, async () => {
          const url = notifyUrl(options.url);
          const { realtime: r, secret } = await registration(io);
          if (secret === undefined)
            throw new ConfigError('invalid_config', 'set NOTIFY_SECRET (the secret Dataverse will send)');
          const result = await r.enable({ url, secret, updateSecret: options.updateSecret === true });
          io.out(`endpoint: ${result.endpoint} (${url})`);
          io.out(`steps created: ${listed(result.created)}`);
          io.out(`steps removed: ${listed(result.removed)}`);
          io.out(`steps already registered: ${result.unchanged}`);
          if (result.unavailable.length > 0)
            io.out(`not offered by Dataverse (skipped): ${listed(result.unavailable)}`);
          return EXIT.ok;
        }),
      ),
    );

  realtime
    .command('disable')
    .description('remove the steps and the webhook endpoint (the timer keeps syncing)')
    .action(async () =>
      setExitCode(
        await guarded('realtime disable', io, async () => {
          const result = await (await registration(io)).realtime.disable();
          io.out(
            result.removedEndpoint
              ? `removed ${result.removedSteps} step(s) and the endpoint`
              : 'nothing registered; nothing to remove',
          );
          return EXIT.ok;
        }),
      ),
    );

  realtime
    .command('status')
    .description('list what is registered and what is missing')
    .option('--json', 'print the status as JSON')
    .action(async (options: { json?: boolean }) =>
      setExitCode(
        await guarded('realtime status', io, async () => {
          const status = await (await registration(io)).realtime.status();
          if (options.json === true) {
            io.out(JSON.stringify(status, null, 2));
            return EXIT.ok;
          }
          io.out(
            status.endpoint === undefined ? 'endpoint: not registered' : `endpoint: ${status.endpoint.url}`,
          );
          io.out(`registered: ${listed(status.registered)}`);
          io.out(`missing: ${listed(status.missing)}`);
          io.out(`extra: ${listed(status.extra)}`);
          return EXIT.ok;
        }),
      ),
    );
}
