import { z } from 'zod';
import type { TableDef } from './schema.catalog';
import { DataverseSimulatorError } from './simulator.errors';

export const privilegeSchema = z.enum([
  'create',
  'read',
  'write',
  'delete',
  'append',
  'appendto',
  'assign',
  'share',
]);
export type Privilege = z.infer<typeof privilegeSchema>;

const PRV: Record<Privilege, string> = {
  create: 'Create',
  read: 'Read',
  write: 'Write',
  delete: 'Delete',
  append: 'Append',
  appendto: 'AppendTo',
  assign: 'Assign',
  share: 'Share',
};

/** Only rows with an owner can be assigned or shared. */
const privilegesOf = (def: TableDef): Privilege[] =>
  privilegeSchema.options.filter((p) => def.ownership === 'user' || (p !== 'assign' && p !== 'share'));

/**
 * `prv<Privilege><Entity>`. A table without privileges of its own (an intersect table) is named
 * after itself, so that denying one still says what was denied.
 */
const privilegeName = (def: TableDef, privilege: Privilege): string =>
  `prv${PRV[privilege]}${def.privilegeEntity ?? def.schemaName}`;

/**
 * The application users' security role, reduced to what tests need: every privilege is granted
 * unless denied. A denied one answers 403 0x80040220 as Dataverse does for a missing privilege
 * (the API's own calls only; the control API acts as an administrator). Privileges are kept by
 * name, so tables sharing one (every activity shares prvReadActivity) are denied together.
 */
export class PrivilegeRules {
  private readonly denied = new Set<string>();

  deny(def: TableDef, privilege: Privilege): void {
    this.denied.add(privilegeName(def, privilege));
  }

  clear(): void {
    this.denied.clear();
  }

  assert(def: TableDef, privilege: Privilege, userId: string): void {
    if (this.denied.size === 0) return;
    const name = privilegeName(def, privilege);
    if (!this.denied.has(name)) return;
    throw new DataverseSimulatorError(
      403,
      '0x80040220',
      `Principal user (Id=${userId}, type=8, roleCount=1, privilegeCount=0, accessMode=0), is missing ${name} privilege on entity '${def.logicalName}'.`,
    );
  }

  /** The privilege names an application user holds over these tables, in table order. */
  granted(defs: TableDef[]): string[] {
    const names = new Set<string>();
    for (const def of defs) {
      if (def.privilegeEntity === undefined) continue;
      for (const p of privilegesOf(def)) {
        const name = privilegeName(def, p);
        if (!this.denied.has(name)) names.add(name);
      }
    }
    return [...names];
  }

  /** Every privilege over these tables: what a user outside the simulated role (a human) holds. */
  static all(defs: TableDef[]): string[] {
    return new PrivilegeRules().granted(defs);
  }
}
