import { runChaos } from '../../local/chaos/chaos.run';

// A short, seeded version of `npm run chaos`: the whole local stack (functions host and broker in
// child processes that get killed) under faults and edits on both sides, then the audit.
describe('chaos run (short, seeded)', () => {
  it('ends with nothing lost, duplicated, echoed or drifted and no Retry-After violation', async () => {
    const lines: string[] = [];
    const result = await runChaos({
      seed: 1,
      durationMs: 20_000,
      records: 30,
      verify: false,
      meanFaultGapMs: 3_000,
      meanActionGapMs: 700,
      quiesceTimeoutMs: 90_000,
      quietWindowMs: 11_000,
      log: (line) => {
        lines.push(line);
        if (process.env.CHAOS_LOG === '1') process.stderr.write(`${line}\n`);
      },
    });
    const injected = Object.values(result.faults).reduce((sum, n) => sum + n, 0);
    // The line and the findings are the report; the log says what happened in between.
    expect({ line: result.line, findings: result.findings }).toEqual({
      line: expect.stringMatching(/=> OK$/),
      findings: [],
    });
    expect(injected).toBeGreaterThan(3);
    expect(result.edits.dynamics + result.edits.marketing).toBeGreaterThan(10);
    expect(result.restarts.host + result.restarts.broker).toBeGreaterThan(0);
  }, 240_000);
});
