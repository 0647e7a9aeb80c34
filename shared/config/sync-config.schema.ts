import { readFile } from 'node:fs/promises';
import { z } from 'zod';
import { ConfigError } from './config.errors';
import { CONTAINERS, EntityCatalog, type EntityDefinition } from './entity.catalog';
import { describeError } from '../errors/app.errors';

const name = z.string().regex(/^[a-z_][a-z0-9_]*$/, 'must be a lower-case Dataverse logical name');

/**
 * A value transform, applied in order to both sides' values before they are compared, merged,
 * stored or sent: `trim` and `lowercase` on text, `choiceText` from a choice value to marketing text
 * by a table (and back when the field is pushed).
 */
const transformSchema = z.union(
  [
    z.literal('trim'),
    z.literal('lowercase'),
    z
      .object({
        choiceText: z
          .record(
            z.string().regex(/^-?\d+$/, 'keys must be choice values (whole numbers)'),
            z.string().min(1),
          )
          .refine((table) => Object.keys(table).length > 0, 'must map at least one value'),
      })
      .strict(),
  ],
  {
    error:
      'must be "trim", "lowercase" or {"choiceText": {"<choice value>": "<text>"}} keyed by whole numbers',
  },
);
export type FieldTransform = z.output<typeof transformSchema>;

const fieldRuleSchema = z
  .object({
    /** Marketing-side field name, at the top level of the person document. */
    marketing: z.string().regex(/^[A-Za-z][A-Za-z0-9]*$/, 'must be a camelCase field name'),
    dynamics: name,
    direction: z.enum(['both', 'pull', 'push']).default('both'),
    /** Overrides the entity's conflict rule for this field (lead: marketing wins, contact: Dynamics wins). */
    conflict: z.enum(['marketing', 'dynamics']).optional(),
    transform: z.array(transformSchema).min(1).optional(),
  })
  .superRefine((rule, ctx) => {
    const tables = (rule.transform ?? []).flatMap((t) => (typeof t === 'object' ? [t.choiceText] : []));
    const issue = (message: string) =>
      ctx.addIssue({ code: 'custom', path: ['transform'], message: `field "${rule.marketing}": ${message}` });
    if (tables.length > 1) issue('one choiceText table at most');
    if (tables.length === 1 && typeof rule.transform?.[0] !== 'object') {
      issue(
        'choiceText must come first: it turns the choice into text, which trim and lowercase then work on',
      );
    }
    const texts = Object.values(tables[0] ?? {});
    const twice = texts.find((text, i) => texts.indexOf(text) !== i);
    // Pushed back, a text must name one value.
    if (twice !== undefined && rule.direction !== 'pull') issue(`choiceText maps two values to "${twice}"`);
  });

/** A fixed value written to a column: on create only, or on every write the sync makes. */
const constantSchema = z
  .object({
    dynamics: name,
    value: z.union([z.string(), z.number(), z.boolean(), z.null()]),
    on: z.enum(['create', 'write']).default('create'),
  })
  .strict();
export type FieldConstant = z.output<typeof constantSchema>;

const customEntitySchema = z.object({
  logicalName: name,
  entitySet: name,
  key: name,
  columns: z.array(name).min(1),
  /**
   * The lookup that ties each row to a lead, contact or account (as the reference product requires),
   * or to a row of another custom entity declared here, which is tied further the same way.
   */
  link: z.object({ column: name, target: name }),
});

const guid = z
  .string()
  .regex(/^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/, 'must be a GUID')
  .transform((id) => id.toLowerCase());

/** Who owns what the sync creates in Dynamics when the owner asked for cannot. */
const ownersSchema = z
  .object({
    /**
     * The user that owns a created lead or contact whose requested owner is disabled or unknown in
     * Dynamics; each such create is recorded as an `owner_fallback` warning. Without it, the create
     * is refused and recorded.
     */
    default: z.object({ id: guid }).strict().optional(),
    /**
     * Owner ids from another environment (a sandbox, a copy) are mapped to the user with the same
     * email in this one's directory, when the id is unknown here.
     */
    mapByEmail: z.boolean().default(false),
  })
  .strict();

export const syncConfigSchema = z
  .object({
    syncFilterColumn: name.default('new_synctomkto'),
    customEntities: z.array(customEntitySchema).default([]),
    fields: z
      .object({ lead: z.array(fieldRuleSchema).optional(), contact: z.array(fieldRuleSchema).optional() })
      .strict()
      .default({}),
    owners: ownersSchema.default({ mapByEmail: false }),
    constants: z
      .object({ lead: z.array(constantSchema).optional(), contact: z.array(constantSchema).optional() })
      .strict()
      .default({}),
  })
  .strict()
  .superRefine((config, ctx) => {
    const custom = new Map(config.customEntities.map((e) => [e.logicalName, e.link.target]));
    for (const [i, entity] of config.customEntities.entries()) {
      const target = entity.link.target;
      const path = ['customEntities', i, 'link', 'target'];
      if (!['lead', 'contact', 'account'].includes(target) && !custom.has(target)) {
        ctx.addIssue({
          code: 'custom',
          path,
          message: `custom entity "${entity.logicalName}" links to "${target}", which is no lead, contact, account or custom entity declared here`,
        });
        continue;
      }
      // Follow the chain: it must end at a lead, contact or account, not come back.
      const seen = new Set([entity.logicalName]);
      for (
        let next: string | undefined = target;
        next !== undefined && custom.has(next);
        next = custom.get(next)
      ) {
        if (seen.has(next)) {
          ctx.addIssue({
            code: 'custom',
            path,
            message: `custom entity "${entity.logicalName}": its links go round in a circle through "${next}"`,
          });
          break;
        }
        seen.add(next);
      }
    }
    for (const table of ['lead', 'contact'] as const) {
      const fed = new Map((config.fields[table] ?? []).map((rule) => [rule.dynamics, rule.marketing]));
      for (const [i, constant] of (config.constants[table] ?? []).entries()) {
        const field = fed.get(constant.dynamics);
        if (field === undefined) continue;
        ctx.addIssue({
          code: 'custom',
          path: ['constants', table, i, 'dynamics'],
          message: `column "${constant.dynamics}" is also fed by field "${field}": a constant would undo its edits`,
        });
      }
    }
  });

export type SyncConfig = z.output<typeof syncConfigSchema>;
export type FieldRule = z.output<typeof fieldRuleSchema>;
export type OwnerRules = z.output<typeof ownersSchema>;

export const DEFAULT_SYNC_CONFIG: SyncConfig = syncConfigSchema.parse({});

export function parseSyncConfig(raw: unknown, source = 'SYNC_CONFIG'): SyncConfig {
  const parsed = syncConfigSchema.safeParse(raw);
  if (!parsed.success) {
    const lines = parsed.error.issues.map(
      (issue) => `  ${issue.path.join('.') || '(root)'}${fieldNamed(raw, issue.path)}: ${issue.message}`,
    );
    throw new ConfigError(
      'invalid_sync_config',
      `Invalid sync configuration in ${source}:\n${lines.join('\n')}`,
    );
  }
  return parsed.data;
}

/** ` (field "x")` for an issue inside a field rule, so the message names the field, not its index. */
function fieldNamed(raw: unknown, path: readonly PropertyKey[]): string {
  if (path[0] !== 'fields' || typeof path[2] !== 'number') return '';
  const rules = (raw as { fields?: Record<string, unknown[]> } | null)?.fields?.[String(path[1])];
  const marketing = (rules?.[path[2]] as { marketing?: unknown } | undefined)?.marketing;
  return typeof marketing === 'string' ? ` (field "${marketing}")` : '';
}

export async function loadSyncConfig(
  path: string | undefined,
  read: (path: string) => Promise<string> = (p) => readFile(p, 'utf8'),
): Promise<SyncConfig> {
  if (path === undefined) return DEFAULT_SYNC_CONFIG;
  let text: string;
  try {
    text = await read(path);
  } catch (error) {
    throw new ConfigError('invalid_sync_config', `SYNC_CONFIG: cannot read ${path}: ${describeError(error)}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new ConfigError(
      'invalid_sync_config',
      `SYNC_CONFIG: ${path} is not valid JSON: ${describeError(error)}`,
    );
  }
  return parseSyncConfig(json, path);
}

export function buildCatalog(config: SyncConfig): EntityCatalog {
  const custom: EntityDefinition[] = config.customEntities.map((entity) => ({
    logicalName: entity.logicalName,
    entitySet: entity.entitySet,
    key: entity.key,
    container: 'custom' as const,
    direction: 'pull' as const,
    custom: true,
    columns: [...new Set([...entity.columns, entity.link.column, 'modifiedon', 'versionnumber'])],
  }));
  return new EntityCatalog(custom);
}

export { CONTAINERS };
