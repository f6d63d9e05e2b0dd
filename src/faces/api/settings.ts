import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { CATALOGUE } from '../../core/settings/catalogue.ts';
import { ctxOf } from '../ctx.ts';
import { AccountParams, errorResponses } from './schemas.ts';

export const AccountSettings = Type.Object(
  Object.fromEntries(CATALOGUE.map((s) => [s.key, { ...s.schema, description: s.description }])),
  {
    $id: 'AccountSettings',
    description: "An account's effective settings: its own values over the defaults",
  },
);

const CatalogueEntry = Type.Object({
  key: Type.String(),
  description: Type.String(),
  default: Type.Unknown(),
  schema: Type.Object({}, { additionalProperties: true, description: 'JSON Schema of the value' }),
});

export async function settingRoutes(app: FastifyInstance): Promise<void> {
  const fastify = app.withTypeProvider<TypeBoxTypeProvider>();
  const tags = ['settings'];
  const settings = fastify.services.settings;

  fastify.get(
    '/settings/catalogue',
    {
      config: { permission: 'settings:read' },
      schema: {
        tags,
        summary: 'Every account setting: key, description, default and JSON Schema',
        response: { 200: Type.Object({ data: Type.Array(CatalogueEntry) }), ...errorResponses },
      },
    },
    async () => ({ data: settings.catalogue() }),
  );

  fastify.get(
    '/accounts/:account_id/settings',
    {
      config: { permission: 'settings:read' },
      schema: {
        tags,
        summary: "An account's settings (every setting: the account's value or the default)",
        params: AccountParams,
        response: { 200: AccountSettings, ...errorResponses },
      },
    },
    async (request) => settings.get(ctxOf(request), request.params.account_id),
  );

  fastify.patch(
    '/accounts/:account_id/settings',
    {
      config: { permission: 'settings:write' },
      schema: {
        tags,
        summary: 'Change settings: object settings merge key by key; null resets a setting to its default',
        params: AccountParams,
        // Checked against the catalogue by the service, so errors are 422 unknown_setting / invalid_setting.
        body: Type.Object(
          {},
          {
            additionalProperties: true,
            description: 'a partial settings object; see GET /api/settings/catalogue',
          },
        ),
        response: { 200: AccountSettings, ...errorResponses },
      },
    },
    async (request) => settings.update(ctxOf(request), request.params.account_id, request.body),
  );
}
