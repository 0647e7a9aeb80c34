import { sameValue } from './content.hash';
import type { PersonFieldRule } from './entity.profile';
import type { FieldValue, FieldValues } from './record.model';

export interface MergeOutcome {
  /** The marketing values to store at the top level of the person. */
  values: FieldValues;
  /** Always the incoming Dynamics values: what Dynamics holds now is what was agreed last. */
  agreed: FieldValues;
  /** Fields changed on both sides since the last agreement (settled by the rule, reported for audit). */
  conflicts: string[];
  /** Fields whose marketing value differs from Dynamics after the merge: the pusher sends these. */
  pendingPush: string[];
}

/**
 * Merges incoming Dynamics values with the marketing copy against the last agreed values, so a
 * value the sync wrote itself never looks like an edit (no echo) and a real edit is never dropped
 * because of who made it.
 */
export function threeWayMerge(
  rules: readonly PersonFieldRule[],
  incoming: FieldValues,
  agreed: FieldValues | undefined,
  current: FieldValues | undefined,
): MergeOutcome {
  const values: FieldValues = {};
  const conflicts: string[] = [];
  const pendingPush: string[] = [];
  for (const rule of rules) {
    const field = rule.marketing;
    const theirs: FieldValue = incoming[field] ?? null;
    if (current === undefined || !(field in current)) {
      values[field] = theirs;
      continue;
    }
    const ours: FieldValue = current[field] ?? null;
    let result: FieldValue;
    if (rule.direction === 'pull') {
      // One-way field: the marketing side cannot own it, Dynamics always wins.
      result = theirs;
    } else if (rule.direction === 'push') {
      result = ours;
    } else {
      const base = agreed !== undefined && field in agreed ? agreed[field] : undefined;
      const dynamicsEdited = base === undefined || !sameValue(theirs, base);
      const marketingEdited = base === undefined || !sameValue(ours, base);
      if (sameValue(ours, theirs)) result = theirs;
      else if (dynamicsEdited && !marketingEdited) result = theirs;
      else if (marketingEdited && !dynamicsEdited) result = ours;
      else {
        conflicts.push(field);
        result = rule.conflict === 'marketing' ? ours : theirs;
      }
    }
    values[field] = result;
    if (!sameValue(result, theirs) && rule.direction !== 'pull') pendingPush.push(field);
  }
  const agreedOut: FieldValues = {};
  for (const rule of rules) agreedOut[rule.marketing] = incoming[rule.marketing] ?? null;
  return { values, agreed: agreedOut, conflicts, pendingPush };
}
