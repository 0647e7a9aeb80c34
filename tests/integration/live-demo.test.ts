import { LiveDemo } from '../../local/live-demo';
import { usePullStack } from './pull-stack.fixture';

describe('npm start live demo', () => {
  const stack = usePullStack({ records: 20, seed: 5 });

  it('starts its first scene as soon as the first load has brought someone to edit, and reports it settled', async () => {
    const lines: string[] = [];
    const demo = new LiveDemo(stack().sim, stack().container('people'), (line) => lines.push(line));
    // Nothing loaded yet: no scene, and the first one is not skipped but tried again.
    await demo.tick();
    await demo.tick();
    expect(lines).toEqual([]);

    expect((await stack().pull('contact')).outcome).toBe('done');
    await demo.tick();
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^ {2}→ a Dynamics user set jobtitle "Head of Demo #0" on contact /);

    // The edit reaches Cosmos with the next pull; the demo says so on its next tick.
    expect((await stack().pull('contact')).outcome).toBe('done');
    await demo.tick();
    expect(lines[1]).toMatch(/^ {2}✔ Dynamics edit "Head of Demo #0": in Cosmos after \d+\.\d s$/);
  });
});
