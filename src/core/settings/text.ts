// The one text form of account settings, for every place a setting travels as a string: the eSignature face
// (its settings are a flat object of strings), account-settings exports (a CSV column per setting) and
// account-settings imports (the same columns read back). Each catalogue setting, and each property of an
// object setting, is one flat setting named by its path (`mfa_required`, `password_policy.min_length`).
//
// Text form: booleans `true`/`false`, numbers in decimal, lists comma-separated (`drawn,typed`: the catalogue's
// lists hold enum words, never a comma), strings as they are. Reading takes booleans in any case (TRUE, False:
// what spreadsheets write), lists also `;`-separated or as a JSON array (what exports wrote before this codec);
// nothing else (yes, 1) passes for a boolean. Ranges, enums and the rest are the settings service's to check.
import type { TSchema } from '@sinclair/typebox';
import { CATALOGUE, objectSchema, type SettingDef } from './catalogue.ts';

/** One flat setting: its path, its catalogue key, the property of an object setting, and its schema. */
export interface FlatSetting {
  path: string;
  key: string;
  prop?: string;
  schema: TSchema;
}

/** Every flat setting, in catalogue order. */
export const FLAT_SETTINGS: readonly FlatSetting[] = (CATALOGUE as readonly SettingDef[]).flatMap(
  (def): FlatSetting[] => {
    const obj = objectSchema(def);
    if (!obj) return [{ path: def.key, key: def.key, schema: def.schema }];
    return Object.entries(obj.properties).map(([prop, schema]) => ({
      path: `${def.key}.${prop}`,
      key: def.key,
      prop,
      schema: schema as TSchema,
    }));
  },
);

const BY_PATH = new Map(FLAT_SETTINGS.map((f) => [f.path, f]));

/** The flat setting at `path` (exactly as FLAT_SETTINGS names it), if there is one. */
export function flatSetting(path: string): FlatSetting | undefined {
  return BY_PATH.get(path);
}

/** A flat setting's value in a settings object (as SettingsService.get returns it). */
export function flatValue(settings: Record<string, unknown>, f: FlatSetting): unknown {
  const top = settings[f.key];
  return f.prop === undefined ? top : (top as Record<string, unknown> | undefined)?.[f.prop];
}

/** Puts a flat setting's value into a patch (as SettingsService.update takes it). */
export function setFlatValue(patch: Record<string, unknown>, f: FlatSetting, value: unknown): void {
  if (f.prop === undefined) patch[f.key] = value;
  else patch[f.key] = { ...((patch[f.key] as Record<string, unknown> | undefined) ?? {}), [f.prop]: value };
}

/** A setting's value as text. */
export function settingText(value: unknown): string {
  if (value === null || value === undefined) return '';
  if (Array.isArray(value)) return value.join(',');
  return String(value);
}

// Bounded quantifiers: linear time on any input.
const NUMBER = /^-?\d{1,15}(\.\d{1,15})?$/;

/** Text as the value the setting's schema wants, or what is wrong with it. */
export function settingFromText(f: FlatSetting, text: string): { value: unknown } | { error: string } {
  const t = text.trim();
  switch (f.schema.type) {
    case 'boolean': {
      const lower = t.toLowerCase();
      if (lower === 'true') return { value: true };
      if (lower === 'false') return { value: false };
      return { error: `expected true or false, got "${text}"` };
    }
    case 'integer':
    case 'number':
      return NUMBER.test(t) ? { value: Number(t) } : { error: `expected a number, got "${text}"` };
    case 'array': {
      if (t.startsWith('[')) {
        try {
          return { value: JSON.parse(t) };
        } catch {
          return { error: `expected a list separated by , or ; or a JSON array, got "${text}"` };
        }
      }
      return {
        value: t
          .split(/[;,]/)
          .map((s) => s.trim())
          .filter(Boolean),
      };
    }
    default:
      return { value: text };
  }
}
