import Table from 'cli-table3';
import type { Command } from 'commander';
import { verifyDrift, type VerifyReport } from '../app/verify.composition';
import { describeError } from '../errors/app.errors';
import { InProcessJobQueue } from '../queue/in-process.job-queue';
import { ManualActionError } from '../sync/manual-actions.use-case';
import { EXIT, openServices, type CommandIo } from './command.support';

const plain = { style: { head: [], border: [] } };

/** The report as a person reads it: one row per entity, then the sampled findings. */
export function verifyTable(report: VerifyReport): string {
  const table = new Table({
    ...plain,
    head: [
      'entity',
      'rows',
      'in sync',
      'in flight',
      'filtered',
      'renamed',
      'missing',
      'gone',
      'stale',
      'unpushed',
      'excluded',
      'drift',
    ],
  });
  for (const r of report.entities) {
    table.push([
      r.entity,
      r.counts.rows,
      r.counts.inSync,
      r.counts.inFlight,
      r.counts.filteredOut,
      r.counts.renamed,
      r.findings.missing_in_cosmos,
      r.findings.gone_from_dynamics,
      r.findings.stale,
      r.findings.unpushed,
      r.findings.excluded,
      r.error !== undefined ? `failed: ${r.error.message}` : r.drift,
    ]);
  }
  const lines = [table.toString()];
  for (const r of report.entities) {
    for (const f of r.sample) {
      const fields = f.fields.length > 0 ? ` [${f.fields.join(', ')}]` : '';
      const person = f.personId !== undefined ? ` (person ${f.personId})` : '';
      lines.push(`${f.code} ${f.entity} ${f.id}${person}${fields}: ${f.detail}`);
    }
  }
  const renamed = Object.values(report.renamedReread).reduce((sum, n) => sum + n, 0);
  if (renamed > 0) {
    lines.push(`${renamed} rows with a renamed lookup (account, owner or contact) read again`);
  }
  if (report.repair !== undefined) {
    const reread = Object.values(report.repair.reread).reduce((sum, n) => sum + n, 0);
    lines.push(
      `repair: ${report.repair.driftBefore} drifted before; ${reread} rows read again, ${report.repair.pushed} people pushed again`,
    );
  }
  lines.push(
    report.drift === 0 && report.failed === 0
      ? `no drift (${report.requests} Dataverse requests)`
      : `drift: ${report.drift}${report.failed > 0 ? `, ${report.failed} entities could not be verified` : ''} (${report.requests} Dataverse requests)`,
  );
  return lines.join('\n');
}

/** `dynamics-sync verify [--entity X ...] [--repair] [--json]`: exit 0 only when nothing drifted. */
export function registerVerifyCommand(
  program: Command,
  io: CommandIo,
  setExitCode: (code: number) => void,
): void {
  program
    .command('verify')
    .description(
      'compare Dynamics and Cosmos DB for every synced entity and report drift (exit 0 only when there is none)',
    )
    .option('--entity <name...>', 'only these entities (default: every synced entity)')
    .option(
      '--repair',
      'read drifted rows again through the pull, push unpushed edits again, then verify again',
    )
    .option('--json', 'print the report as JSON for scripts')
    .action(async (options: { entity?: string[]; repair?: boolean; json?: boolean }) => {
      // Repair reads rows through the pull in this process; no job goes to the deployed queues.
      const queue = new InProcessJobQueue();
      const opened = await openServices('verify', io, { queue }, { provision: false });
      if (typeof opened === 'number') {
        await queue.close();
        return setExitCode(opened);
      }
      try {
        const report = await verifyDrift(opened, {
          ...(options.entity !== undefined ? { entities: options.entity } : {}),
          repair: options.repair === true,
        });
        if (options.json === true) io.out(JSON.stringify(report, null, 2));
        else io.out(verifyTable(report));
        setExitCode(report.drift === 0 && report.failed === 0 ? EXIT.ok : EXIT.failed);
      } catch (error) {
        io.err(`verify: ${error instanceof ManualActionError ? error.message : describeError(error)}`);
        setExitCode(error instanceof ManualActionError ? EXIT.usage : EXIT.failed);
      } finally {
        await queue.close();
        await opened.close();
      }
    });
}
