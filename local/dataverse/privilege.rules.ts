import { z } from 'zod';
import { DataverseSimulatorError } from './simulator.errors';

export const privilegeSchema = z.enum(['create', 'read', 'write', 'delete']);
export type Privilege = z.infer<typeof privilegeSchema>;

const PRV: Record<Privilege, string> = { create: 'Create', read: 'Read', write: 'Write', delete: 'Delete' };

/**
 * The application user's security role, reduced to what tests need: every privilege is granted
 * unless denied per table. A denied one answers 403 0x80040220 as Dataverse does for a missing
 * privilege (the API's own writes only; the control API acts as an administrator).
 */
export class PrivilegeRules {
  private readonly denied = new Map<string, Set<Privilege>>();

  deny(table: string, privilege: Privilege): void {
    const set = this.denied.get(table) ?? new Set<Privilege>();
    set.add(privilege);
    this.denied.set(table, set);
  }

  clear(): void {
    this.denied.clear();
  }

  assert(table: string, privilege: Privilege, userId: string): void {
    if (!this.denied.get(table)?.has(privilege)) return;
    const name = `prv${PRV[privilege]}${table.charAt(0).toUpperCase()}${table.slice(1)}`;
    throw new DataverseSimulatorError(
      403,
      '0x80040220',
      `Principal user (Id=${userId}, type=8, roleCount=1, privilegeCount=0, accessMode=0), is missing ${name} privilege on entity '${table}'.`,
    );
  }
}
