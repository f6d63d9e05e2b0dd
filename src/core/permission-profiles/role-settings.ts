// eSignature's AccountRoleSettings (the `settings` of a PermissionProfile) against Signet's profile permissions.
// The flags Signet enforces map onto its permissions, by the names the docusign-esign SDK's models carry
// (AccountRoleSettings, AccountManagementGranular; the SDK drops any other name when it reads a response):
//
//   send_envelopes              allowEnvelopeSending
//   manage_users                accountManagementGranular.allowManageUsers
//   manage_groups               accountManagementGranular.allowManageGroupsButNotUsers
//   manage_permission_profiles  accountManagementGranular.allowManageAdmins
//   manage_account_settings     accountManagementGranular.allowManageAccountSettings
//   view_audit_log              accountManagementGranular.allowManageReporting
//   manage_brands, manage_api_keys: no eSignature flag; kept as they are.
//
// allowAccountManagement is derived ("true" when any manage_* permission above is granted), never read. Every
// other field (DocuSign has some fifty flags, each with a …Metadata object) is not enforced but KEPT as sent,
// in permission_profiles.role_settings, and returned unchanged: a profile copied from DocuSign round-trips.
// A change names only the fields it changes: fields it does not name keep their value, a field sent as null
// is removed. The one home of this mapping: every face and the account clone go through it.
import { invalidField } from '../errors.ts';
import type { ProfilePermission } from '../principal.ts';

type Json = Record<string, unknown>;

const GRANULAR = 'accountManagementGranular';
const DERIVED = 'allowAccountManagement';

/** [Signet permission, flag in settings or in settings.accountManagementGranular]. */
const FLAGS: [ProfilePermission, 'settings' | 'granular', string][] = [
  ['send_envelopes', 'settings', 'allowEnvelopeSending'],
  ['manage_users', 'granular', 'allowManageUsers'],
  ['manage_groups', 'granular', 'allowManageGroupsButNotUsers'],
  ['manage_permission_profiles', 'granular', 'allowManageAdmins'],
  ['manage_account_settings', 'granular', 'allowManageAccountSettings'],
  ['view_audit_log', 'granular', 'allowManageReporting'],
];
const ADMIN: ProfilePermission[] = [
  'manage_users',
  'manage_groups',
  'manage_permission_profiles',
  'manage_account_settings',
];
const MAPPED_TOP = new Set([DERIVED, ...FLAGS.filter(([, w]) => w === 'settings').map(([, , f]) => f)]);
const MAPPED_GRANULAR = new Set(FLAGS.filter(([, w]) => w === 'granular').map(([, , f]) => f));

/** The kept fields of one profile, serialised, at most this long (a full DocuSign profile is about 20 KB). */
const MAX_KEPT_BYTES = 64 * 1024;

export interface RoleSettingsChange {
  /** Permissions the settings grant ("true") and withdraw ("false"); flags not named are in neither. */
  grant: ProfilePermission[];
  withdraw: ProfilePermission[];
  /** The other fields, as sent (null: remove the field), accountManagementGranular's under that key. */
  kept: Json;
}

const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

/** eSignature's booleans: true/false or the strings "true"/"false" (any case); absent or "" is undefined. */
function flag(v: unknown, path: string): boolean | undefined {
  if (v === undefined || v === null || v === '') return undefined;
  if (typeof v === 'boolean') return v;
  if (typeof v === 'string' && /^(true|false)$/i.test(v)) return v.toLowerCase() === 'true';
  throw invalidField(path, 'must be "true" or "false"');
}

/** PostgreSQL's jsonb refuses U+0000 in any string: refused here, naming the field, rather than a 500. */
function refuseNul(v: unknown, path: string): void {
  if (typeof v === 'string') {
    if (v.includes('\u0000')) throw invalidField(path, 'must not contain the NUL character (U+0000)');
  } else if (Array.isArray(v)) {
    for (const [i, x] of v.entries()) refuseNul(x, `${path}[${i}]`);
  } else if (isObject(v)) {
    for (const [k, x] of Object.entries(v)) {
      refuseNul(k, path);
      refuseNul(x, `${path}.${k}`);
    }
  }
}

/** Reads an AccountRoleSettings object (`field` names it in errors). Undefined or null changes nothing. */
export function parseRoleSettings(settings: unknown, field = 'settings'): RoleSettingsChange {
  const change: RoleSettingsChange = { grant: [], withdraw: [], kept: {} };
  if (settings === undefined || settings === null) return change;
  if (!isObject(settings)) throw invalidField(field, 'must be an object');
  const granular = settings[GRANULAR];
  if (granular !== undefined && granular !== null && !isObject(granular)) {
    throw invalidField(`${field}.${GRANULAR}`, 'must be an object');
  }
  for (const [permission, where, name] of FLAGS) {
    const from = where === 'settings' ? settings : ((granular ?? {}) as Json);
    const path = where === 'settings' ? `${field}.${name}` : `${field}.${GRANULAR}.${name}`;
    const value = flag(from[name], path);
    if (value === true) change.grant.push(permission);
    if (value === false) change.withdraw.push(permission);
  }
  for (const [k, v] of Object.entries(settings)) {
    if (MAPPED_TOP.has(k) || k === GRANULAR) continue;
    change.kept[k] = v;
  }
  if (isObject(granular)) {
    const rest = Object.fromEntries(Object.entries(granular).filter(([k]) => !MAPPED_GRANULAR.has(k)));
    if (Object.keys(rest).length > 0) change.kept[GRANULAR] = rest;
  }
  refuseNul(change.kept, field);
  return change;
}

/** The kept fields after a change: named fields replace, null removes, the rest stay (granular: one level down). */
export function mergeKept(stored: Json, kept: Json, field = 'settings'): Json {
  const out: Json = { ...stored };
  for (const [k, v] of Object.entries(kept)) {
    if (k === GRANULAR && isObject(v)) {
      const inner: Json = isObject(stored[GRANULAR]) ? { ...(stored[GRANULAR] as Json) } : {};
      for (const [gk, gv] of Object.entries(v)) {
        if (gv === null) delete inner[gk];
        else inner[gk] = gv;
      }
      if (Object.keys(inner).length > 0) out[GRANULAR] = inner;
      else delete out[GRANULAR];
    } else if (v === null) {
      delete out[k];
    } else {
      out[k] = v;
    }
  }
  if (Buffer.byteLength(JSON.stringify(out)) > MAX_KEPT_BYTES) {
    throw invalidField(field, `the settings Signet keeps for a profile are at most ${MAX_KEPT_BYTES} bytes`);
  }
  return out;
}

/** The permissions after a change: those withdrawn go, those granted come. */
export function applyRoleSettings(permissions: readonly string[], change: RoleSettingsChange): string[] {
  const withdrawn = new Set<string>(change.withdraw);
  return [...new Set([...permissions.filter((p) => !withdrawn.has(p)), ...change.grant])];
}

/** A profile's AccountRoleSettings: its kept fields with the enforced flags written from its permissions. */
export function roleSettingsOf(permissions: readonly string[], kept: Json = {}): Json {
  const has = (p: string) => String(permissions.includes(p));
  const settings: Json = { ...kept, [DERIVED]: String(ADMIN.some((p) => permissions.includes(p))) };
  const granular: Json = isObject(kept[GRANULAR]) ? { ...(kept[GRANULAR] as Json) } : {};
  for (const [permission, where, name] of FLAGS) {
    (where === 'settings' ? settings : granular)[name] = has(permission);
  }
  settings[GRANULAR] = granular;
  return settings;
}
