// Account settings: the catalogue (catalogue.ts) holds every setting's schema and default; an account stores
// only what differs from the defaults (account_settings.values). Reads merge the two; a patch merges object
// settings property by property, resets a setting (or one property) given null, and is all-or-nothing.
import { isDeepStrictEqual } from 'node:util';
import type { TSchema } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import type { Db } from '../../db/connection.ts';
import { type Ctx, mutate } from '../context.ts';
import { AppError, type ErrorDetail } from '../errors.ts';
import { accountInPath } from '../refs.ts';
import { CATALOGUE, objectSchema, type SettingDef, type Settings, settingDef } from './catalogue.ts';

export interface CatalogueEntry {
  key: string;
  description: string;
  default: unknown;
  schema: Record<string, unknown>;
}

type Values = Record<string, unknown>;

const isPlainObject = (v: unknown): v is Values => typeof v === 'object' && v !== null && !Array.isArray(v);

const preview = (v: unknown): string => {
  const text = JSON.stringify(v) ?? String(v);
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
};

/** The JSON Schema keywords the catalogue uses. */
interface SchemaWords {
  type?: string;
  anyOf?: SchemaWords[];
  const?: unknown;
  minimum?: number;
  maximum?: number;
  pattern?: string;
  description?: string;
  items?: SchemaWords;
  uniqueItems?: boolean;
  minItems?: number;
  properties?: Record<string, SchemaWords>;
}

/** What a schema accepts, in words: the "expected …" of an invalid_setting error. */
export function describeSchema(schema: TSchema | SchemaWords): string {
  const s = schema as SchemaWords;
  if (s.anyOf?.every((o) => 'const' in o)) {
    return `one of ${s.anyOf.map((o) => JSON.stringify(o.const)).join(', ')}`;
  }
  switch (s.type) {
    case 'integer':
      return `an integer from ${s.minimum} to ${s.maximum}`;
    case 'boolean':
      return 'true or false';
    case 'string':
      return s.description ?? (s.pattern ? `a string matching ${s.pattern}` : 'a string');
    case 'array': {
      const items = s.items ? describeSchema(s.items) : 'any value';
      const distinct = s.uniqueItems ? 'distinct ' : '';
      const atLeast = s.minItems ? ` (at least ${s.minItems})` : '';
      return `a list of ${distinct}values, each ${items}${atLeast}`;
    }
    case 'object':
      return `an object with the keys ${Object.keys(s.properties ?? {}).join(', ')}`;
    default:
      return s.description ?? 'a valid value';
  }
}

/** The first way `value` misses `schema`, as a detail naming the setting; null when it fits. */
function problem(field: string, schema: TSchema, value: unknown): ErrorDetail | null {
  const first = Value.Errors(schema, value).First();
  if (!first) return null;
  return {
    field,
    message: `expected ${describeSchema(schema)}, got ${preview(value)}`,
    expected: describeSchema(schema),
    problem: first.path ? `${first.path}: ${first.message}` : first.message,
  };
}

/** Stored values over the defaults. A stored value the catalogue no longer accepts falls back to the default. */
export function effective(stored: Values): Settings {
  const out: Values = {};
  for (const def of CATALOGUE as readonly SettingDef[]) {
    const value = stored[def.key];
    const obj = objectSchema(def);
    if (obj) {
      const merged: Values = structuredClone(def.default as Values);
      if (isPlainObject(value)) {
        for (const [prop, propSchema] of Object.entries(obj.properties)) {
          if (value[prop] !== undefined && Value.Check(propSchema, value[prop])) merged[prop] = value[prop];
        }
      }
      out[def.key] = merged;
    } else {
      out[def.key] =
        value !== undefined && Value.Check(def.schema, value) ? value : structuredClone(def.default);
    }
  }
  return out as Settings;
}

/** Checks a whole patch, collecting every problem: unknown keys first, then values that do not fit. */
function checkPatch(patch: Values): void {
  const unknown: ErrorDetail[] = [];
  const invalid: ErrorDetail[] = [];
  for (const [key, value] of Object.entries(patch)) {
    const def = settingDef(key);
    if (!def) {
      unknown.push({ field: key, message: 'unknown setting' });
      continue;
    }
    if (value === null) continue; // reset to the default
    const obj = objectSchema(def);
    if (!obj) {
      const p = problem(key, def.schema, value);
      if (p) invalid.push(p);
      continue;
    }
    if (!isPlainObject(value)) {
      invalid.push({
        field: key,
        message: `expected ${describeSchema(obj)} (any subset of them), got ${preview(value)}`,
        expected: describeSchema(obj),
      });
      continue;
    }
    for (const [prop, propValue] of Object.entries(value)) {
      const propSchema = obj.properties[prop];
      if (!propSchema) {
        unknown.push({ field: `${key}.${prop}`, message: 'unknown setting' });
        continue;
      }
      if (propValue === null) continue;
      const p = problem(`${key}.${prop}`, propSchema, propValue);
      if (p) invalid.push(p);
    }
  }
  if (unknown.length > 0) {
    const names = unknown.map((d) => d.field).join(', ');
    throw new AppError(
      'unknown_setting',
      `unknown setting${unknown.length > 1 ? 's' : ''} ${names}; GET /api/settings/catalogue lists the settings`,
      unknown,
    );
  }
  if (invalid.length > 0) {
    const first = invalid[0]!;
    const more = invalid.length > 1 ? ` (and ${invalid.length - 1} more in details)` : '';
    throw new AppError('invalid_setting', `${first.field}: ${first.message}${more}`, invalid);
  }
}

/** The stored values after a (checked) patch: only what differs from the defaults is kept. */
function applyPatch(stored: Values, patch: Values): Values {
  const next = structuredClone(stored);
  for (const [key, value] of Object.entries(patch)) {
    const def = settingDef(key)!;
    if (value === null) {
      delete next[key];
      continue;
    }
    if (objectSchema(def) && isPlainObject(value)) {
      const defaults = def.default as Values;
      const sub: Values = isPlainObject(next[key]) ? { ...next[key] } : {};
      for (const [prop, propValue] of Object.entries(value)) {
        if (propValue === null || isDeepStrictEqual(propValue, defaults[prop])) delete sub[prop];
        else sub[prop] = propValue;
      }
      if (Object.keys(sub).length === 0) delete next[key];
      else next[key] = sub;
    } else if (isDeepStrictEqual(value, def.default)) {
      delete next[key];
    } else {
      next[key] = value;
    }
  }
  return next;
}

export class SettingsService {
  constructor(private readonly db: Db) {}

  /** Every setting: key, description, default and JSON Schema. */
  catalogue(): CatalogueEntry[] {
    return (CATALOGUE as readonly SettingDef[]).map((def) => ({
      key: def.key,
      description: def.description,
      default: structuredClone(def.default),
      // TypeBox schemas are JSON Schema plus symbol-keyed metadata; this keeps the JSON Schema.
      schema: JSON.parse(JSON.stringify(def.schema)) as Record<string, unknown>,
    }));
  }

  /** The account's effective settings: every setting, the account's value or the default. */
  async get(ctx: Ctx, accountId: string, db: Db = this.db): Promise<Settings> {
    await accountInPath(ctx, db, accountId);
    const row = await db
      .selectFrom('account_settings')
      .select('values')
      .where('account_id', '=', accountId)
      .executeTakeFirst();
    return effective(row?.values ?? {});
  }

  async update(ctx: Ctx, accountId: string, patch: Values): Promise<Settings> {
    return mutate(this.db, ctx, async (trx, audit) => {
      await accountInPath(ctx, trx, accountId);
      checkPatch(patch);
      // Make sure the row exists, then lock it: concurrent patches apply one after the other, none lost.
      await trx
        .insertInto('account_settings')
        .values({ account_id: accountId, organization_id: ctx.principal.organizationId, values: {} })
        .onConflict((oc) => oc.column('account_id').doNothing())
        .execute();
      const row = await trx
        .selectFrom('account_settings')
        .select('values')
        .where('account_id', '=', accountId)
        .forUpdate()
        .executeTakeFirstOrThrow();
      const stored = isPlainObject(row.values) ? row.values : {};
      const next = applyPatch(stored, patch);
      const before = effective(stored) as Values;
      const after = effective(next) as Values;
      const changed = Object.keys(after).filter((k) => !isDeepStrictEqual(before[k], after[k]));
      if (!isDeepStrictEqual(stored, next)) {
        await trx
          .updateTable('account_settings')
          .set({ values: next, updated_at: new Date() })
          .where('account_id', '=', accountId)
          .execute();
      }
      if (changed.length > 0) {
        const pick = (all: Values) => Object.fromEntries(changed.map((k) => [k, all[k]]));
        // Under one key: the audit diff masks top-level keys that look secret, and "password_policy" does.
        audit.record({
          action: 'account_settings.updated',
          targetType: 'account_settings',
          targetId: accountId,
          accountId,
          before: { settings: pick(before) },
          after: { settings: pick(after) },
        });
      }
      return after as Settings;
    });
  }
}
