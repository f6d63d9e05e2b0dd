import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { MAX_RULES_PER_ACCOUNT } from '../../core/mapping-rules/service.ts';
import { ctxOf } from '../ctx.ts';
import {
  AccountParams,
  errorResponses,
  IntId,
  Nullable,
  OutInt,
  Strict,
  Timestamp,
  Uuid,
} from './schemas.ts';

const VALUE = { minLength: 1, maxLength: 200 } as const;

/** One attribute's test: exactly one of equals / matches. */
const Condition = Type.Object(
  {
    equals: Type.Optional(Type.String({ ...VALUE, description: 'the exact value, case-insensitively' })),
    matches: Type.Optional(
      Type.String({
        ...VALUE,
        description: 'a glob, case-insensitively: * is any run of characters, ? is one; the rest is literal',
      }),
    ),
  },
  { ...Strict, minProperties: 1, maxProperties: 1 },
);

const Conditions = Type.Object(
  {
    job_title: Type.Optional(Condition),
    department: Type.Optional(Condition),
    company: Type.Optional(Condition),
  },
  { ...Strict, minProperties: 1, description: 'every condition given must hold; at least one' },
);

const OutCondition = Type.Object({
  equals: Type.Optional(Type.String()),
  matches: Type.Optional(Type.String()),
});

export const MappingRule = Type.Object(
  {
    id: Uuid,
    account_id: Uuid,
    position: Type.Integer({ description: '1 for the first rule; the first matching enabled rule wins' }),
    name: Type.String(),
    conditions: Type.Object({
      job_title: Type.Optional(OutCondition),
      department: Type.Optional(OutCondition),
      company: Type.Optional(OutCondition),
    }),
    permission_profile_id: OutInt,
    group_ids: Type.Array(OutInt),
    enabled: Type.Boolean(),
    created_at: Timestamp,
    updated_at: Timestamp,
  },
  { $id: 'MappingRule' },
);

const Name = Type.String({ minLength: 1, maxLength: 100 });
const GroupIds = Type.Array(IntId, {
  maxItems: 100,
  description: 'groups of the account; duplicates are ignored',
});
const RuleParams = Type.Object({ account_id: Uuid, id: Uuid }, Strict);
const RuleList = Type.Object({ data: Type.Array(MappingRule) });

export async function mappingRuleRoutes(app: FastifyInstance): Promise<void> {
  const fastify = app.withTypeProvider<TypeBoxTypeProvider>();
  const tags = ['mapping rules'];
  const rules = fastify.services.mappingRules;

  fastify.post(
    '/accounts/:account_id/mapping_rules',
    {
      config: { permission: 'profiles:write' },
      schema: {
        tags,
        summary: 'Add an HR mapping rule at the end of the account’s list',
        params: AccountParams,
        body: Type.Object(
          {
            name: Name,
            conditions: Conditions,
            permission_profile_id: IntId,
            group_ids: Type.Optional(GroupIds),
            enabled: Type.Optional(Type.Boolean()),
          },
          Strict,
        ),
        response: { 201: MappingRule, ...errorResponses },
      },
    },
    async (request, reply) =>
      reply.code(201).send(await rules.create(ctxOf(request), request.params.account_id, request.body)),
  );

  fastify.get(
    '/accounts/:account_id/mapping_rules',
    {
      config: { permission: 'profiles:read' },
      schema: {
        tags,
        summary: `An account's mapping rules, in order (all of them: at most ${MAX_RULES_PER_ACCOUNT})`,
        params: AccountParams,
        response: { 200: RuleList, ...errorResponses },
      },
    },
    async (request) => rules.list(ctxOf(request), request.params.account_id),
  );

  fastify.get(
    '/accounts/:account_id/mapping_rules/:id',
    {
      config: { permission: 'profiles:read' },
      schema: {
        tags,
        summary: 'Get a mapping rule',
        params: RuleParams,
        response: { 200: MappingRule, ...errorResponses },
      },
    },
    async (request) => rules.get(ctxOf(request), request.params.account_id, request.params.id),
  );

  fastify.patch(
    '/accounts/:account_id/mapping_rules/:id',
    {
      config: { permission: 'profiles:write' },
      schema: {
        tags,
        summary:
          'Update a mapping rule (conditions and group_ids are replaced whole; order is set by reorder)',
        params: RuleParams,
        body: Type.Object(
          {
            name: Type.Optional(Name),
            conditions: Type.Optional(Conditions),
            permission_profile_id: Type.Optional(IntId),
            group_ids: Type.Optional(GroupIds),
            enabled: Type.Optional(Type.Boolean()),
          },
          Strict,
        ),
        response: { 200: MappingRule, ...errorResponses },
      },
    },
    async (request) =>
      rules.update(ctxOf(request), request.params.account_id, request.params.id, request.body),
  );

  fastify.delete(
    '/accounts/:account_id/mapping_rules/:id',
    {
      config: { permission: 'profiles:write' },
      schema: {
        tags,
        summary: 'Delete a mapping rule (the rules after it move up)',
        params: RuleParams,
        response: { 204: Type.Null({ description: 'done; no body' }), ...errorResponses },
      },
    },
    async (request, reply) => {
      await rules.delete(ctxOf(request), request.params.account_id, request.params.id);
      return reply.code(204).send(null);
    },
  );

  fastify.post(
    '/accounts/:account_id/mapping_rules/reorder',
    {
      config: { permission: 'profiles:write' },
      schema: {
        tags,
        summary: "Set the order of an account's mapping rules",
        params: AccountParams,
        body: Type.Object(
          {
            rule_ids: Type.Array(Uuid, {
              maxItems: MAX_RULES_PER_ACCOUNT,
              description: 'every rule of the account, exactly once, first rule first',
            }),
          },
          Strict,
        ),
        response: { 200: RuleList, ...errorResponses },
      },
    },
    async (request) => rules.reorder(ctxOf(request), request.params.account_id, request.body.rule_ids),
  );

  const Attribute = Type.Optional(Nullable(Type.String({ maxLength: 200 })));
  fastify.post(
    '/mapping_rules/test',
    {
      config: { permission: 'profiles:read' },
      schema: {
        tags,
        summary: 'What a person with these attributes would get as a new member of the account',
        body: Type.Object(
          { account_id: Uuid, job_title: Attribute, department: Attribute, company: Attribute },
          Strict,
        ),
        response: {
          200: Type.Object({
            matched: Type.Boolean(),
            rule: Nullable(MappingRule),
            permission_profile: Nullable(Type.Object({ id: OutInt, name: Type.String() })),
            group_ids: Type.Array(OutInt),
            source: Type.Union([Type.Literal('rule'), Type.Literal('default')]),
          }),
          ...errorResponses,
        },
      },
    },
    async (request) => rules.test(ctxOf(request), request.body),
  );
}
