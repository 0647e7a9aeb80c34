import type { FieldTransform } from '../config/sync-config.schema';
import type { FieldValue } from './record.model';

/** What a field's transforms make of a value, or why they cannot. */
export type Transformed = { ok: true; value: FieldValue } | { ok: false; reason: string };

interface TransformedRule {
  marketing: string;
  transform?: readonly FieldTransform[];
}

const textTransform = (transform: FieldTransform, value: FieldValue): FieldValue => {
  if (typeof value !== 'string') return value;
  if (transform === 'trim') return value.trim();
  if (transform === 'lowercase') return value.toLowerCase();
  return value;
};

/**
 * A Dynamics value as the marketing side keeps it: a choice through the field's choiceText table,
 * then trim and lowercase on text. A choice value the table does not have is a failure: the field
 * is held (see page.planner.ts), never stored as something the marketing side would misread.
 */
export function toMarketing(rule: TransformedRule, value: FieldValue): Transformed {
  let out: FieldValue = value;
  for (const transform of rule.transform ?? []) {
    if (typeof transform === 'object') {
      if (out === null) continue;
      const choice = typeof out === 'object' && 'value' in out ? out.value : out;
      const text = typeof choice === 'number' ? transform.choiceText[String(choice)] : undefined;
      if (text === undefined) {
        return {
          ok: false,
          reason: `field "${rule.marketing}": Dynamics value ${JSON.stringify(choice)} has no entry in its choiceText table; the marketing value is kept until the table maps it`,
        };
      }
      out = text;
    } else out = textTransform(transform, out);
  }
  return { ok: true, value: out };
}

/**
 * A marketing value in the form it is compared and sent in: trim and lowercase applied, so an
 * edit that differs only in case or spaces is no edit, and what is sent is what comes back.
 */
export function normalizeMarketing(rule: TransformedRule, value: FieldValue): FieldValue {
  let out = value;
  for (const transform of rule.transform ?? [])
    if (typeof transform !== 'object') out = textTransform(transform, out);
  return out;
}

/** A marketing text back to its choice value through the choiceText table, for a pushed field. */
export function toDynamicsChoice(rule: TransformedRule, value: FieldValue): Transformed {
  const table = (rule.transform ?? []).find(
    (t): t is Exclude<FieldTransform, string> => typeof t === 'object',
  );
  if (table === undefined || value === null) return { ok: true, value };
  const wanted = typeof value === 'string' ? normalizeMarketing(rule, value) : value;
  const entry = Object.entries(table.choiceText).find(
    ([, text]) => normalizeMarketing(rule, text) === wanted,
  );
  if (entry === undefined) {
    return {
      ok: false,
      reason: `${rule.marketing}: "${typeof value === 'string' ? value.slice(0, 40) : typeof value}" is none of the texts of its choiceText table`,
    };
  }
  return { ok: true, value: Number(entry[0]) };
}
