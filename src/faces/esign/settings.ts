// eSignature account settings: AccountsApi.listSettings (GET /settings) and updateSettings (PUT /settings, 200
// with no body). eSignature's settings are one flat object of strings; Signet's are a typed catalogue
// (core/settings/catalogue.ts) with two object settings. Each Signet setting (each property of an object
// setting) travels as a string in core's one settings text form (core/settings/text.ts, which exports and
// settings imports use too): booleans "true"/"false", integers in decimal, lists comma-separated.
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
// neither (any other eSignature setting) is refused with 400 INVALID_ACCOUNT_SETTING, naming it. A value the
// codec cannot read, or the settings service refuses, is invalid_setting (400 INVALID_ACCOUNT_SETTING_VALUE).
import type { FastifyInstance } from 'fastify';
import { AppError, type ErrorDetail, invalidField } from '../../core/errors.ts';
import {
  FLAT_SETTINGS,
  type FlatSetting,
  flatSetting,
  flatValue,
  setFlatValue,
  settingFromText,
  settingText,
} from '../../core/settings/text.ts';
import { emptyResponseCtx } from '../docusign/ctx.ts';
import { accountOf, bodyOf, type Json, listOf } from './shared.ts';

const ESIGN_NAMES: Record<string, string> = {
  session_timeout_minutes: 'sessionTimeout',
  enable_sms_delivery: 'allowSMSDelivery',
  envelope_id_stamping: 'envelopeStampingDefaultValue',
  'signing_defaults.allow_signer_reassign': 'allowSignerReassign',
  'signing_defaults.default_language': 'accountDefaultLanguage',
  data_retention_days: 'documentRetention',
};
const BY_ESIGN_NAME = new Map(Object.entries(ESIGN_NAMES).map(([path, name]) => [name, flatSetting(path)!]));

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
      for (const f of FLAT_SETTINGS) {
        const value = settingText(flatValue(effective, f));
        const name = ESIGN_NAMES[f.path];
        if (name) out[name] = value;
        else additional.push({ name: f.path, value });
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
      const put = (f: FlatSetting, field: string, raw: unknown) => {
        if (raw === undefined || raw === null) return;
        // eSignature sends strings; a JSON boolean or number is read as its text.
        if (typeof raw !== 'string' && typeof raw !== 'boolean' && typeof raw !== 'number') {
          throw invalidField(field, 'value must be a string');
        }
        const parsed = settingFromText(f, String(raw));
        if ('error' in parsed) {
          throw new AppError('invalid_setting', `${field}: ${parsed.error}`, [
            { field, message: parsed.error },
          ]);
        }
        setFlatValue(patch, f, parsed.value);
      };
      for (const [name, raw] of Object.entries(body)) {
        if (name === 'additionalSettings') continue;
        const f = BY_ESIGN_NAME.get(name);
        if (f) put(f, name, raw);
        else unknown.push({ field: name, message: 'not a setting Signet has' });
      }
      for (const item of listOf(body, 'additionalSettings', 200)) {
        const name = typeof item.name === 'string' ? item.name : '';
        const f = flatSetting(name);
        if (!f) {
          unknown.push({
            field: `additionalSettings.${name || '(no name)'}`,
            message: 'not a setting Signet has',
          });
          continue;
        }
        put(f, `additionalSettings.${name}`, item.value);
      }
      if (unknown.length > 0) {
        throw new AppError(
          'unknown_setting',
          `unknown setting${unknown.length > 1 ? 's' : ''} ${unknown.map((d) => d.field).join(', ')}; ` +
            `the settings are ${Object.values(ESIGN_NAMES).join(', ')} and, in additionalSettings, ` +
            FLAT_SETTINGS.filter((f) => !ESIGN_NAMES[f.path])
              .map((f) => f.path)
              .join(', '),
          unknown,
        );
      }
      // An empty 200, not the settings the service returns: the empty response is stored with the effect.
      await settings.update(emptyResponseCtx(request), accountId, patch);
      return reply.code(200).send();
    },
  );
}
