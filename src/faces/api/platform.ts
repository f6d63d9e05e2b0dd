// Platform mode and connected accounts (docs/platform.md), in Atlas's [A] shape: `/api/platform`,
// `/api/platform/connected-accounts` (Atlas's path, hyphen included), snake_case fields. The create answers
// Atlas's fields (success, connected_org_id, external_id, created, next_step) beside Signet's own view.
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { MAX_GRANT } from '../../core/credits/ledger.ts';
import { ACCOUNT_HEADER, EXTERNAL_PREFIX } from '../../core/platform/service.ts';
import { ctxOf } from '../ctx.ts';
import { errorResponses, ListQuery, Nullable, Page, Strict, Timestamp, Uuid } from './schemas.ts';

const BillingMode = Type.Union([Type.Literal('platform_pays'), Type.Literal('child_pays')], {
  description:
    "platform_pays (default): the connected account's sends debit the platform's credits; child_pays: its own",
});
const Status = Type.Union([Type.Literal('active'), Type.Literal('suspended')], {
  description:
    'suspended: sends (and anything else that costs credits) answer 403; drafts and reads still work',
});
const ExternalId = Type.String({
  minLength: 1,
  maxLength: 255,
  pattern: '^[\\x21-\\x7e]+$',
  description: `your own id for the customer (visible ASCII, no spaces); later calls name it as ${ACCOUNT_HEADER}: ${EXTERNAL_PREFIX}<external_id>`,
});
const Name = Type.String({ minLength: 1, maxLength: 200 });

export const Platform = Type.Object(
  {
    organization_id: Uuid,
    enabled: Type.Boolean({ description: 'whether this organization provisions connected accounts' }),
    connected_account: Nullable(
      Type.Object({
        platform_organization_id: Uuid,
        external_id: Type.String(),
        status: Status,
        billing_mode: BillingMode,
      }),
    ),
  },
  { $id: 'Platform' },
);

export const ConnectedAccount = Type.Object(
  {
    id: Uuid,
    name: Type.String(),
    external_id: Type.String(),
    status: Status,
    billing_mode: BillingMode,
    platform_organization_id: Uuid,
    account_id: Uuid,
    created_at: Timestamp,
    updated_at: Timestamp,
  },
  { $id: 'ConnectedAccount' },
);

const Created = Type.Intersect([
  ConnectedAccount,
  Type.Object({
    success: Type.Literal(true),
    connected_org_id: Uuid,
    created: Type.Boolean({
      description: 'false when the external_id already named an account (returned as it is)',
    }),
    next_step: Type.String(),
  }),
]);

const RefParams = Type.Object(
  {
    id: Type.String({
      minLength: 1,
      maxLength: 300,
      description: `the connected account's id, or ${EXTERNAL_PREFIX}<external_id>`,
    }),
  },
  Strict,
);

export async function platformRoutes(app: FastifyInstance): Promise<void> {
  const fastify = app.withTypeProvider<TypeBoxTypeProvider>();
  const tags = ['platform'];
  const platform = fastify.services.platform;

  fastify.get(
    '/platform',
    {
      config: { permission: 'platform:read' },
      schema: {
        tags,
        summary: "Platform mode of the caller's organization (and, for a connected account, its platform)",
        response: { 200: Platform, ...errorResponses },
      },
    },
    async (request) => platform.get(ctxOf(request)),
  );

  fastify.post(
    '/platform',
    {
      config: { permission: 'platform:write' },
      schema: {
        tags,
        summary: 'Turn platform mode on or off (owners only)',
        body: Type.Object({ enabled: Type.Boolean() }, Strict),
        response: { 200: Platform, ...errorResponses },
      },
    },
    async (request) => platform.setEnabled(ctxOf(request), request.body.enabled),
  );

  fastify.post(
    '/platform/connected-accounts',
    {
      config: { permission: 'platform:write' },
      schema: {
        tags,
        summary:
          'Provision a connected account (idempotent on external_id: a repeat returns the existing one)',
        body: Type.Object(
          {
            external_id: ExternalId,
            name: Name,
            billing_mode: Type.Optional(BillingMode),
            initial_credits: Type.Optional(
              Type.Integer({
                minimum: 0,
                maximum: MAX_GRANT,
                description:
                  "credits granted to the account's own pool at creation (once: a repeat grants none)",
              }),
            ),
          },
          Strict,
        ),
        response: { 200: Created, 201: Created, ...errorResponses },
      },
    },
    async (request, reply) => {
      const { account, created } = await platform.createConnected(ctxOf(request), request.body);
      reply.code(created ? 201 : 200);
      return {
        success: true as const,
        connected_org_id: account.id,
        ...account,
        created,
        next_step: `Send "${ACCOUNT_HEADER}: ${EXTERNAL_PREFIX}${account.external_id}" (or the connected_org_id) with a platform key on later calls to act for this account`,
      };
    },
  );

  fastify.get(
    '/platform/connected-accounts',
    {
      config: { permission: 'platform:read' },
      schema: {
        tags,
        summary: "The platform's connected accounts, oldest first",
        querystring: Type.Object(
          {
            ...ListQuery,
            status: Type.Optional(Status),
            external_id: Type.Optional(Type.String({ minLength: 1, maxLength: 255 })),
            q: Type.Optional(
              Type.String({ minLength: 1, maxLength: 200, description: 'part of the name or external_id' }),
            ),
          },
          Strict,
        ),
        response: { 200: Page(ConnectedAccount), ...errorResponses },
      },
    },
    async (request) => platform.listConnected(ctxOf(request), request.query),
  );

  fastify.get(
    '/platform/connected-accounts/:id',
    {
      config: { permission: 'platform:read' },
      schema: {
        tags,
        summary: 'Get a connected account (by id or ext_<external_id>)',
        params: RefParams,
        response: { 200: ConnectedAccount, ...errorResponses },
      },
    },
    async (request) => platform.getConnected(ctxOf(request), request.params.id),
  );

  fastify.patch(
    '/platform/connected-accounts/:id',
    {
      config: { permission: 'platform:write' },
      schema: {
        tags,
        summary: 'Rename, suspend or reactivate a connected account, or change who pays for its sends',
        params: RefParams,
        body: Type.Object(
          {
            name: Type.Optional(Name),
            status: Type.Optional(Status),
            billing_mode: Type.Optional(BillingMode),
          },
          Strict,
        ),
        response: { 200: ConnectedAccount, ...errorResponses },
      },
    },
    async (request) => platform.updateConnected(ctxOf(request), request.params.id, request.body),
  );
}
