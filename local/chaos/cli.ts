import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Command } from 'commander';
import { appendLog, runChaos } from './chaos.run';

/** `npm run chaos -- --minutes N [--seed S] [--records R]` */
async function main(argv: string[]): Promise<number> {
  const opts = new Command()
    .name('chaos')
    .description(
      'The local stack under seeded faults and edits on both sides, then an audit that must find nothing',
    )
    .option('--minutes <n>', 'how long the faults and edits go on', '10')
    .option('--seed <n>', 'seed of the schedule (printed, so a run can be replayed)')
    .option('--records <n>', 'contacts seeded in the simulator', '200')
    .parse(argv)
    .opts<{ minutes: string; seed?: string; records: string }>();
  const minutes = Number(opts.minutes);
  const seed = opts.seed !== undefined ? Number(opts.seed) : Math.floor(Math.random() * 2 ** 31);
  const records = Number(opts.records);
  if (!(minutes > 0) || !Number.isInteger(seed) || !(records > 0)) {
    throw new Error('--minutes must be a positive number, --seed and --records whole numbers');
  }
  const logFile = path.join(mkdtempSync(path.join(tmpdir(), 'chaos-')), 'chaos.log');
  const toFile = appendLog(logFile);
  console.log(`chaos: seed ${seed}, ${minutes} min, ${records} contacts; log ${logFile}`);
  console.log(`replay: npm run chaos -- --minutes ${minutes} --seed ${seed} --records ${records}`);
  const result = await runChaos({
    seed,
    durationMs: minutes * 60_000,
    records,
    log: (line) => {
      toFile(line);
      if (!line.includes(' host: ') && !line.startsWith('verify output')) console.log(line);
    },
  });
  for (const finding of result.findings.slice(0, 20)) {
    console.log(`  ${finding.code} ${finding.table} ${finding.id}: ${finding.detail}`);
  }
  console.log(result.line);
  return result.ok ? 0 : 1;
}

main(process.argv).then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(`chaos: ${error instanceof Error ? error.message : String(error)}`);
    process.exit(2);
  },
);
