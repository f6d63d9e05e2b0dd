// The account settings Signet knows: each has a key, a TypeBox schema, a default and a one-line description.
// An account stores only the values that differ from these defaults, so a default changed here reaches every
// account that never changed it. Object settings are complete here (every property required); accounts store
// and patch them property by property.
import { type Static, type TObject, type TSchema, Type } from '@sinclair/typebox';

const Bool = (description: string) => Type.Boolean({ description });
const Int = (minimum: number, maximum: number, description: string) =>
  Type.Integer({ minimum, maximum, description });

export const SIGNATURE_TYPES = ['drawn', 'typed', 'uploaded'] as const;

const PasswordPolicy = Type.Object(
  {
    min_length: Int(8, 128, 'the shortest password accepted'),
    require_mixed_case: Bool('upper- and lower-case letters required'),
    require_digit: Bool('a digit required'),
    require_symbol: Bool('a symbol required'),
    max_age_days: Int(0, 3650, 'days before a password must be changed; 0 = never'),
  },
  { additionalProperties: false },
);

const SigningDefaults = Type.Object(
  {
    reminder_frequency_days: Int(0, 30, 'days between reminders to signers; 0 = no reminders'),
    expiration_days: Int(1, 365, 'days until an unsigned envelope expires'),
    allow_signer_reassign: Bool('signers may reassign the envelope to someone else'),
    allow_decline: Bool('signers may decline to sign'),
    default_language: Type.String({
      pattern: '^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*$',
      maxLength: 35,
      description: 'a BCP 47 language tag such as "en" or "pt-BR"',
    }),
  },
  { additionalProperties: false },
);

function setting<K extends string, S extends TSchema>(
  key: K,
  schema: S,
  defaultValue: Static<S>,
  description: string,
) {
  return { key, schema, default: defaultValue, description };
}

export const CATALOGUE = [
  setting(
    'session_timeout_minutes',
    Int(5, 1440, 'minutes of inactivity before a session ends'),
    20,
    'Minutes of inactivity after which a signed-in session ends.',
  ),
  setting(
    'password_policy',
    PasswordPolicy,
    {
      min_length: 12,
      require_mixed_case: true,
      require_digit: true,
      require_symbol: false,
      max_age_days: 0,
    },
    'What a password of a user of this account must look like, and how long it lasts.',
  ),
  setting(
    'mfa_required',
    Bool('users must sign in with a second factor'),
    false,
    'Whether users must sign in with a second factor.',
  ),
  setting(
    'signing_defaults',
    SigningDefaults,
    {
      reminder_frequency_days: 0,
      expiration_days: 120,
      allow_signer_reassign: false,
      allow_decline: true,
      default_language: 'en',
    },
    'Defaults for new envelopes: reminders, expiry, what signers may do, and the language.',
  ),
  setting(
    'envelope_id_stamping',
    Bool('stamp the envelope id on signed documents'),
    true,
    'Whether the envelope id is stamped on every page of signed documents.',
  ),
  setting(
    'enable_sms_delivery',
    Bool('envelopes may be delivered by SMS'),
    false,
    'Whether senders may deliver envelopes to signers by SMS.',
  ),
  setting(
    'allowed_signature_types',
    Type.Array(Type.Union(SIGNATURE_TYPES.map((t) => Type.Literal(t))), {
      minItems: 1,
      uniqueItems: true,
      description: `the ways a signer may sign: ${SIGNATURE_TYPES.join(', ')}`,
    }),
    [...SIGNATURE_TYPES],
    'The ways a signer may make a signature: drawn, typed, or an uploaded image.',
  ),
  setting(
    'data_retention_days',
    Int(0, 36500, 'days completed envelopes are kept; 0 = forever'),
    0,
    'Days completed envelopes are kept before they are purged; 0 keeps them forever.',
  ),
] as const;

export type SettingKey = (typeof CATALOGUE)[number]['key'];
/** An account's effective settings, typed from the catalogue. */
export type Settings = { [S in (typeof CATALOGUE)[number] as S['key']]: Static<S['schema']> };
export interface SettingDef {
  key: string;
  schema: TSchema;
  default: unknown;
  description: string;
}

const BY_KEY = new Map<string, SettingDef>(CATALOGUE.map((s) => [s.key, s]));

export function settingDef(key: string): SettingDef | undefined {
  return BY_KEY.get(key);
}

/** The object-valued settings' schemas (patched and stored property by property). */
export function objectSchema(def: SettingDef): TObject | null {
  return def.schema.type === 'object' ? (def.schema as TObject) : null;
}

/** Every setting at its default. */
export function defaults(): Record<string, unknown> {
  return Object.fromEntries(CATALOGUE.map((s) => [s.key, structuredClone(s.default)]));
}
