import type { Container } from '@azure/cosmos';
import type { DataverseSimulator } from './dataverse/simulator.server';

type Person = {
  id: string;
  type: 'lead' | 'contact';
  jobTitle?: unknown;
  memberships?: { listId: string; name: string | null }[];
  listRequests?: unknown;
  dynamics: { leadId?: string; contactId?: string };
  sync?: { excluded?: unknown; deletedInDynamics?: unknown; merged?: unknown };
  _etag?: string;
};

interface Watch {
  label: string;
  startedAt: number;
  settled: () => Promise<string | undefined>;
}

/**
 * What `npm start` shows besides the functions' own logs: a Dynamics user's edit arriving in
 * Cosmos, a marketing edit arriving in Dynamics, and the same field edited on both sides at once
 * settling by the entity's conflict rule (lead: marketing wins, contact: Dynamics wins).
 */
export class LiveDemo {
  private step = 0;
  private readonly watches: Watch[] = [];

  constructor(
    private readonly dataverse: DataverseSimulator,
    private readonly people: Container,
    private readonly print: (line: string) => void,
  ) {}

  /**
   * Called every second: reports what has settled, and every 20th call starts the next scene (the
   * first as soon as there is someone to edit).
   */
  async tick(): Promise<void> {
    for (const watch of [...this.watches]) {
      const outcome = await watch.settled();
      if (outcome === undefined) continue;
      this.print(
        `  ✔ ${watch.label}: ${outcome} after ${((Date.now() - watch.startedAt) / 1000).toFixed(1)} s`,
      );
      this.watches.splice(this.watches.indexOf(watch), 1);
    }
    const step = this.step;
    if (step % 20 !== 0 || this.watches.length > 2) {
      this.step++;
      return;
    }
    const scene = (step / 20) % 4;
    const started =
      scene === 0
        ? await this.dynamicsEdit()
        : scene === 1
          ? await this.marketingEdit()
          : scene === 2
            ? await this.conflict()
            : await this.listMembership();
    // Nobody to edit yet (the first load is still running): try the same scene next second.
    if (started) this.step++;
  }

  private async pick(type: 'lead' | 'contact'): Promise<Person | undefined> {
    const { resources } = await this.people.items
      .query<Person>({
        query: `SELECT TOP 50 * FROM c WHERE c.type = @type AND NOT IS_DEFINED(c.sync.excluded) AND NOT IS_DEFINED(c.sync.deletedInDynamics) AND NOT IS_DEFINED(c.sync.merged)`,
        parameters: [{ name: '@type', value: type }],
      })
      .fetchAll();
    const open = resources.filter((p) => {
      const row = this.row(p);
      return row !== undefined && row.statecode === 0;
    });
    return open[this.step % Math.max(1, open.length)];
  }

  private row(person: Person): Record<string, unknown> | undefined {
    const id = person.type === 'lead' ? person.dynamics.leadId : person.dynamics.contactId;
    return id === undefined ? undefined : this.dataverse.control.getRow(person.type, id);
  }

  private async read(id: string): Promise<Person | undefined> {
    return (await this.people.item(id, id).read<Person>()).resource;
  }

  private async setJobTitle(person: Person, jobTitle: string): Promise<void> {
    // Guarded by the document's ETag, as a marketing application should write.
    await this.people.items.upsert(
      { ...person, jobTitle },
      { accessCondition: { type: 'IfMatch', condition: person._etag ?? '' } },
    );
  }

  private async dynamicsEdit(): Promise<boolean> {
    const person = await this.pick('contact');
    if (person === undefined) return false;
    const title = `Head of Demo #${this.step}`;
    this.dataverse.control.updateRow('contact', String(person.dynamics.contactId), { jobtitle: title });
    this.print(`  → a Dynamics user set jobtitle "${title}" on contact ${person.dynamics.contactId}`);
    this.watch(`Dynamics edit "${title}"`, async () =>
      (await this.read(person.id))?.jobTitle === title ? 'in Cosmos' : undefined,
    );
    return true;
  }

  private async marketingEdit(): Promise<boolean> {
    const person = await this.pick('lead');
    if (person === undefined) return false;
    const title = `Marketing Title #${this.step}`;
    await this.setJobTitle(person, title);
    this.print(`  → marketing set jobTitle "${title}" on person ${person.id} (lead)`);
    this.watch(`marketing edit "${title}"`, async () =>
      this.row(person)?.jobtitle === title ? 'in Dynamics' : undefined,
    );
    return true;
  }

  private async conflict(): Promise<boolean> {
    const type = this.step % 2 === 0 ? 'lead' : 'contact';
    const person = await this.pick(type);
    if (person === undefined) return false;
    const id = String(type === 'lead' ? person.dynamics.leadId : person.dynamics.contactId);
    const mine = `Marketing Says #${this.step}`;
    const theirs = `Dynamics Says #${this.step}`;
    this.dataverse.control.updateRow(type, id, { jobtitle: theirs });
    await this.setJobTitle(person, mine);
    const expected = type === 'lead' ? mine : theirs;
    this.print(
      `  → conflict on ${type} ${id}: Dynamics "${theirs}" vs marketing "${mine}" (rule: ${type === 'lead' ? 'marketing' : 'Dynamics'} wins)`,
    );
    this.watch(`conflict on ${type} ${id}`, async () => {
      const doc = await this.read(person.id);
      const row = this.row(person);
      return doc?.jobTitle === expected && row?.jobtitle === expected
        ? `both sides say "${expected}"`
        : undefined;
    });
    return true;
  }

  /**
   * Marketing adds a contact to a static contact list it is not on (`listRequests`): the pusher
   * calls AddMemberList, and the next pull of list members brings the membership back to Cosmos.
   */
  private async listMembership(): Promise<boolean> {
    const person = await this.pick('contact');
    const contactId = person?.dynamics.contactId;
    if (person === undefined || contactId === undefined) return false;
    const members = this.dataverse.control.listRows('listmember', { limit: 1_000_000 });
    const isMember = (listId: unknown) =>
      members.some((m) => m._listid_value === listId && m._entityid_value === contactId);
    const list = this.dataverse.control
      .listRows('list', { limit: 10_000 })
      .find((l) => l.type === false && l.createdfromcode === 2 && l.statecode === 0 && !isMember(l.listid));
    // Lists are pulled too: until they are, there is nothing to join.
    if (list === undefined || person.listRequests !== undefined) return false;
    const listId = String(list.listid);
    await this.people.items.upsert(
      { ...person, listRequests: [{ listId, action: 'add' }] },
      { accessCondition: { type: 'IfMatch', condition: person._etag ?? '' } },
    );
    this.print(`  → marketing added person ${person.id} to the static list "${String(list.listname)}"`);
    this.watch(`list membership "${String(list.listname)}"`, async () => {
      const inDynamics = this.dataverse.control
        .listRows('listmember', { limit: 1_000_000 })
        .some((m) => m._listid_value === listId && m._entityid_value === contactId);
      if (!inDynamics) return undefined;
      const memberships = (await this.read(person.id))?.memberships ?? [];
      return memberships.some((m) => m.listId === listId)
        ? 'in Dynamics (AddMemberList) and on the person in Cosmos'
        : undefined;
    });
    return true;
  }

  private watch(label: string, settled: () => Promise<string | undefined>): void {
    this.watches.push({ label, startedAt: Date.now(), settled });
  }
}
