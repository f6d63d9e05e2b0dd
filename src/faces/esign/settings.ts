// eSignature account settings: AccountsApi.listSettings (GET /settings) and updateSettings (PUT /settings, 200
// with no body). eSignature's settings are one flat object of strings; Signet's are a typed catalogue
// (core/settings/catalogue.ts) with two object settings. Each Signet setting (each property of an object
// setting) travels as a string: booleans "true"/"false", integers in decimal, lists comma-separated.
//
// Where eSignature has an obvious name for a setting, it is a top-level property under that name:
//
//   sessionTimeout                session_timeout_minutes
//   allowSMSDelivery              enable_sms_delivery
//   envelopeStampingDefaultValue  envelope_id_stamping
//   allowSignerReassign           signing_defaults.allow_signer_reassign
//   accountDefaultLanguage        signing_defaults.default_language
//   documentRetention             data_retention_days
//
// Every other Signet setting is an entry of `additionalSettings` ([{name, value}], a list the SDK's
// AccountSettingsInformation model keeps) named by its Signet key, e.g. {"name": "mfa_required", "value":
// "false"}, {"name": "password_policy.min_length", "value": "12"}. On PUT both forms are read; a name that is
// neither (any other eSignature setting) is refused with 400 INVALID_ACCOUNT_SETTING, naming it. Values are
// checked by the settings service, so a bad one is its invalid_setting (400 INVALID_ACCOUNT_SETTING_VALUE).
import type { TSchema } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { AppError, type ErrorDetail, invalidField } from '../../core/errors.ts';
import { CATALOGUE, objectSchema, type SettingDef } from '../../core/settings/catalogue.ts';
import { sentResponseCtx } from '../docusign/ctx.ts';
import { accountOf, bodyOf, type Json, listOf } from './shared.ts';

const ESIGN_NAMES: Record<string, string> = {
  session_timeout_minutes: 'sessionTimeout',
  enable_sms_delivery: 'allowSMSDelivery',
  envelope_id_stamping: 'envelopeStampingDefaultValue',
  'signing_defaults.allow_signer_reassign': 'allowSignerReassign',
  'signing_defaults.default_language': 'accountDefaultLanguage',
  data_retention_days: 'documentRetention',
};

/** One flat setting: its Signet path (key or key.prop) and schema. */
interface Flat {
  path: string;
  key: string;
  prop?: string;
  schema: TSchema;
}

const FLAT: Flat[] = (CATALOGUE as readonly SettingDef[]).flatMap((def): Flat[] => {
  const obj = objectSchema(def);
  if (!obj) return [{ path: def.key, key: def.key, schema: def.schema }];
  return Object.entries(obj.properties).map(([prop, schema]) => ({
    path: `${def.key}.${prop}`,
    key: def.key,
    prop,
    schema: schema as TSchema,
  }));
});
const BY_PATH = new Map(FLAT.map((f) => [f.path, f]));
const BY_ESIGN_NAME = new Map(Object.entries(ESIGN_NAMES).map(([path, name]) => [name, BY_PATH.get(path)!]));

function toText(value: unknown): string {
  if (Array.isArray(value)) return value.join(',');
  return String(value);
}

/**
 * A wire value as the schema's type. What does not parse is passed on as it came, for the settings service
 * to refuse with its own message.
 */
function fromText(schema: TSchema, value: unknown): unknown {
  if (typeof value !== 'string') return value;
  switch (schema.type) {
    case 'boolean':
      return /^(true|false)$/i.test(value) ? value.toLowerCase() === 'true' : value;
    case 'integer':
      return /^-?\d{1,12}$/.test(value.trim()) ? Number(value.trim()) : value;
    case 'array':
      return value
        .split(',')
        .map((s) => s.trim())
        .filter((s) => s !== '');
    default:
      return value;
  }
}

export async function settingRoutes(fastify: FastifyInstance): Promise<void> {
  const settings = fastify.services.settings;
  const path = '/v2.1/accounts/:accountId/settings';

  fastify.get(
    path,
    { config: { docusignScope: 'signature', permission: 'settings:read' } },
    async (request) => {
      const { ctx, accountId } = await accountOf(request);
      const effective = (await settings.get(ctx, accountId)) as unknown as Json;
      const out: Json = {};
      const additional: { name: string; value: string }[] = [];
      for (const f of FLAT) {
        const top = effective[f.key];
        const value = f.prop === undefined ? top : (top as Json)[f.prop];
        const name = ESIGN_NAMES[f.path];
        if (name) out[name] = toText(value);
        else additional.push({ name: f.path, value: toText(value) });
      }
      return { ...out, additionalSettings: additional };
    },
  );

  fastify.put(
    path,
    { config: { docusignScope: 'signature', permission: 'settings:write' } },
    async (request, reply) => {
      const { accountId } = await accountOf(request);
      const body = bodyOf(request);
      const patch: Json = {};
      const unknown: ErrorDetail[] = [];
      const put = (f: Flat, raw: unknown) => {
        if (raw === undefined || raw === null) return;
        const value = fromText(f.schema, raw);
        if (f.prop === undefined) patch[f.key] = value;
        else patch[f.key] = { ...((patch[f.key] as Json | undefined) ?? {}), [f.prop]: value };
      };
      for (const [name, raw] of Object.entries(body)) {
        if (name === 'additionalSettings') continue;
        const f = BY_ESIGN_NAME.get(name);
        if (f) put(f, raw);
        else unknown.push({ field: name, message: 'not a setting Signet has' });
      }
      for (const item of listOf(body, 'additionalSettings', 200)) {
        const name = typeof item.name === 'string' ? item.name : '';
        const f = BY_PATH.get(name);
        if (!f) {
          unknown.push({
            field: `additionalSettings.${name || '(no name)'}`,
            message: 'not a setting Signet has',
          });
          continue;
        }
        if (
          typeof item.value !== 'string' &&
          typeof item.value !== 'boolean' &&
          typeof item.value !== 'number'
        ) {
          throw invalidField(`additionalSettings.${name}`, 'value must be a string');
        }
        put(f, item.value);
      }
      if (unknown.length > 0) {
        throw new AppError(
          'unknown_setting',
          `unknown setting${unknown.length > 1 ? 's' : ''} ${unknown.map((d) => d.field).join(', ')}; ` +
            `the settings are ${Object.values(ESIGN_NAMES).join(', ')} and, in additionalSettings, ` +
            FLAT.filter((f) => !ESIGN_NAMES[f.path])
              .map((f) => f.path)
              .join(', '),
          unknown,
        );
      }
      // An empty 200, not the settings the service returns: the response sent is stored.
      await settings.update(sentResponseCtx(request), accountId, patch);
      return reply.code(200).send();
    },
  );
}
