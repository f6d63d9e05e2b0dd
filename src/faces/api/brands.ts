import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { type TOptional, type TSchema, type TString, Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { LOGO_KINDS, LOGO_TYPES, type LogoKind } from '../../core/brands/logos.ts';
import { COLOR_KEYS, type ColorKey } from '../../core/brands/service.ts';
import { AppError } from '../../core/errors.ts';
import { ctxOf } from '../ctx.ts';
import { sendLogo } from '../logos.ts';
import { renderNative } from './index.ts';
import {
  AccountParams,
  Email,
  ErrorBody,
  errorResponses,
  ListQuery,
  Nullable,
  Page,
  Strict,
  Timestamp,
  Uuid,
} from './schemas.ts';

const Hex = Type.String({ pattern: '^#[0-9A-Fa-f]{6}$', description: 'a hex color #RRGGBB' });
const colorsOf = <T extends TSchema>(value: T) =>
  Type.Object(
    Object.fromEntries(COLOR_KEYS.map((k) => [k, Type.Optional(value)])) as unknown as Record<
      ColorKey,
      TOptional<T>
    >,
    {
      ...Strict,
      description: `colors by key: ${COLOR_KEYS.join(', ')}`,
    },
  );

const Logo = Type.Object({
  content_type: Type.String(),
  size_bytes: Type.Integer(),
  sha256: Type.String({ description: 'SHA-256 of the file, hex' }),
  url: Type.String({ description: 'GET it for the file' }),
});

export const Brand = Type.Object(
  {
    id: Uuid,
    organization_id: Uuid,
    account_id: Uuid,
    name: Type.String(),
    company: Nullable(Type.String()),
    colors: colorsOf(Type.String()),
    email_sender_name: Nullable(Type.String()),
    email_reply_to: Nullable(Type.String()),
    is_sending_default: Type.Boolean(),
    is_signing_default: Type.Boolean(),
    logos: Type.Object(
      Object.fromEntries(LOGO_KINDS.map((k) => [k, Nullable(Logo)])) as Record<
        LogoKind,
        ReturnType<typeof Nullable<typeof Logo>>
      >,
    ),
    created_at: Timestamp,
    updated_at: Timestamp,
  },
  { $id: 'Brand' },
);

/**
 * A string or null, as one schema with `type: ['string', 'null']`. An anyOf (Nullable) would not do in a
 * request: with type coercion on, Ajv tries the string branch first and turns null into "".
 */
const StringOrNull = (schema: TString) => Type.Unsafe<string | null>({ ...schema, type: ['string', 'null'] });

const Name = Type.String({ minLength: 1, maxLength: 100 });
const Fields = {
  company: Type.Optional(StringOrNull(Type.String({ maxLength: 200 }))),
  email_sender_name: Type.Optional(StringOrNull(Type.String({ maxLength: 100 }))),
  email_reply_to: Type.Optional(StringOrNull(Email)),
  is_sending_default: Type.Optional(
    Type.Boolean({ description: "true makes this the account's sending default, clearing the others" }),
  ),
  is_signing_default: Type.Optional(
    Type.Boolean({ description: "true makes this the account's signing default, clearing the others" }),
  ),
};

const BrandParams = Type.Object({ account_id: Uuid, id: Uuid }, Strict);
const LogoParams = Type.Object(
  { account_id: Uuid, id: Uuid, kind: Type.Union(LOGO_KINDS.map((k) => Type.Literal(k))) },
  Strict,
);
const uploadErrors = { ...errorResponses, 413: ErrorBody, 415: ErrorBody };

export async function brandRoutes(app: FastifyInstance): Promise<void> {
  const fastify = app.withTypeProvider<TypeBoxTypeProvider>();
  const tags = ['brands'];
  const brands = fastify.services.brands;
  const logoLimit = fastify.config.logoLimitBytes;

  // Logos arrive as the raw image. The parser is registered in this plugin only, so no other route takes images.
  fastify.addContentTypeParser(
    [...LOGO_TYPES],
    { parseAs: 'buffer', bodyLimit: logoLimit },
    (_request, body, done) => done(null, body),
  );
  // The shared 415 message speaks of JSON; on the logo routes the accepted types are images.
  fastify.setErrorHandler((err, request, reply) => {
    const code = (err as { code?: string }).code;
    if (code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE' && request.routeOptions.url?.endsWith('/logos/:kind')) {
      return renderNative(
        new AppError('unsupported_media_type', `send the logo as the raw image: ${LOGO_TYPES.join(', ')}`),
        request,
        reply,
      );
    }
    return renderNative(err, request, reply);
  });

  fastify.post(
    '/accounts/:account_id/brands',
    {
      config: { permission: 'brands:write' },
      schema: {
        tags,
        summary: 'Create a brand in an account',
        params: AccountParams,
        body: Type.Object({ name: Name, colors: Type.Optional(colorsOf(Hex)), ...Fields }, Strict),
        response: { 201: Brand, ...errorResponses },
      },
    },
    async (request, reply) =>
      reply.code(201).send(await brands.create(ctxOf(request), request.params.account_id, request.body)),
  );

  fastify.get(
    '/accounts/:account_id/brands',
    {
      config: { permission: 'brands:read' },
      schema: {
        tags,
        summary: "An account's brands",
        params: AccountParams,
        querystring: Type.Object(ListQuery, Strict),
        response: { 200: Page(Brand), ...errorResponses },
      },
    },
    async (request) => brands.list(ctxOf(request), request.params.account_id, request.query),
  );

  fastify.get(
    '/accounts/:account_id/brands/:id',
    {
      config: { permission: 'brands:read' },
      schema: {
        tags,
        summary: 'Get a brand',
        params: BrandParams,
        response: { 200: Brand, ...errorResponses },
      },
    },
    async (request) => brands.get(ctxOf(request), request.params.account_id, request.params.id),
  );

  fastify.patch(
    '/accounts/:account_id/brands/:id',
    {
      config: { permission: 'brands:write' },
      schema: {
        tags,
        summary: 'Update a brand (colors merge key by key; a null color removes it)',
        params: BrandParams,
        body: Type.Object(
          { name: Type.Optional(Name), colors: Type.Optional(colorsOf(StringOrNull(Hex))), ...Fields },
          Strict,
        ),
        response: { 200: Brand, ...errorResponses },
      },
    },
    async (request) =>
      brands.update(ctxOf(request), request.params.account_id, request.params.id, request.body),
  );

  fastify.delete(
    '/accounts/:account_id/brands/:id',
    {
      config: { permission: 'brands:write' },
      schema: {
        tags,
        summary: 'Delete a brand and its logos',
        params: BrandParams,
        response: { 204: Type.Null({ description: 'done; no body' }), ...errorResponses },
      },
    },
    async (request, reply) => {
      await brands.delete(ctxOf(request), request.params.account_id, request.params.id);
      return reply.code(204).send(null);
    },
  );

  fastify.put(
    '/accounts/:account_id/brands/:id/logos/:kind',
    {
      config: { permission: 'brands:write' },
      bodyLimit: logoLimit,
      schema: {
        tags,
        summary: `Upload a logo: the raw image as the body, Content-Type ${LOGO_TYPES.join(', ')}`,
        params: LogoParams,
        consumes: [...LOGO_TYPES],
        response: { 200: Brand, ...uploadErrors },
      },
    },
    // A JSON body (the JSON parser is inherited) is no image: its Content-Type is refused in the service.
    async (request) =>
      brands.putLogo(
        ctxOf(request),
        request.params.account_id,
        request.params.id,
        request.params.kind,
        request.headers['content-type'],
        Buffer.isBuffer(request.body) ? request.body : undefined,
      ),
  );

  fastify.get(
    '/accounts/:account_id/brands/:id/logos/:kind',
    {
      config: { permission: 'brands:read' },
      schema: {
        tags,
        summary: 'Download a logo (served with nosniff; SVG with a CSP that allows no script)',
        params: LogoParams,
        produces: [...LOGO_TYPES],
        response: {
          200: Type.Unsafe<Buffer>({ type: 'string', format: 'binary', description: 'the image file' }),
          ...errorResponses,
        },
      },
    },
    async (request, reply) => {
      const logo = await brands.getLogo(
        ctxOf(request),
        request.params.account_id,
        request.params.id,
        request.params.kind,
      );
      return sendLogo(reply, logo);
    },
  );

  fastify.delete(
    '/accounts/:account_id/brands/:id/logos/:kind',
    {
      config: { permission: 'brands:write' },
      schema: {
        tags,
        summary: 'Remove a logo',
        params: LogoParams,
        response: { 204: Type.Null({ description: 'done; no body' }), ...errorResponses },
      },
    },
    async (request, reply) => {
      await brands.deleteLogo(
        ctxOf(request),
        request.params.account_id,
        request.params.id,
        request.params.kind,
      );
      return reply.code(204).send(null);
    },
  );
}
