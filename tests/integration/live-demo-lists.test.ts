import { LiveDemo } from '../../local/live-demo';
import { useStarted } from './lifecycle.helpers';
import { quietLog } from './pull-stack.fixture';
import { startRelationsStack } from './relations.fixture';

describe('npm start live demo: a membership change reaching Dynamics', () => {
  const stack = useStarted(() => startRelationsStack(53));

  it('adds a contact to a static list from the marketing side and reports it in Dynamics and back in Cosmos', async () => {
    await stack().pull('list', 'listmember', 'lead', 'contact');
    const lines: string[] = [];
    const demo = new LiveDemo(stack().stack.dataverse, stack().container('people'), (line) =>
      lines.push(line),
    );
    // The fourth scene (every 20 ticks a scene starts: edit, edit, conflict, membership).
    // The scenes before it settle as they would on npm start: pushed, then pulled.
    const settle = async () => {
      await stack().services.sync.pushDocuments(await stack().all('people'), {}, quietLog);
      await stack().pull('lead', 'contact');
    };
    for (let i = 0; i < 61 && !lines.some((l) => l.includes('static list')); i++) {
      const before = lines.length;
      await demo.tick();
      if (lines.length > before) await settle();
    }
    const started = lines.find((l) => l.includes('static list')) as string;
    expect(started).toMatch(/^ {2}→ marketing added person \S+ to the static list ".+"$/);
    const personId = /person (\S+) to/.exec(started)?.[1] as string;

    // The pusher (the change feed on npm start) and the next pull of list members.
    await stack().push([personId]);
    await stack().pull('listmember');
    await demo.tick();
    expect(lines.at(-1)).toMatch(
      /^ {2}✔ list membership ".+": in Dynamics \(AddMemberList\) and on the person in Cosmos after \d+\.\d s$/,
    );
  });
});
