// Schemas shared by the native API's routes. One TypeBox schema gives validation, types and OpenAPI.
import { type TSchema, Type } from '@sinclair/typebox';
import { EMAIL_MAX_LENGTH } from '../../core/email.ts';
import { DEFAULT_LIMIT, MAX_LIMIT } from '../../core/pagination.ts';

export const Uuid = Type.String({ format: 'uuid', description: 'UUID' });
/** Permission profile and group ids are integers (DocuSign's wire format). */
export const IntId = Type.Integer({ minimum: 1, maximum: Number.MAX_SAFE_INTEGER });
/** A date-time a client sends. */
export const DateTime = Type.String({ format: 'date-time' });
/** In responses, services hand over Date objects; the serializer writes ISO-8601. */
export const Timestamp = Type.Unsafe<string | Date>({ type: 'string', format: 'date-time' });
/** An integer id in a response: bigint columns arrive as strings and are written as JSON integers. */
export const OutInt = Type.Unsafe<number | string>({ type: 'integer' });
export const Email = Type.String({ format: 'email', minLength: 3, maxLength: EMAIL_MAX_LENGTH });

export const Nullable = <T extends TSchema>(schema: T) => Type.Union([schema, Type.Null()]);

export const ListQuery = {
  limit: Type.Optional(
    Type.Integer({ minimum: 1, maximum: MAX_LIMIT, default: DEFAULT_LIMIT, description: 'page size' }),
  ),
  cursor: Type.Optional(Type.String({ maxLength: 300, description: 'next_cursor of the previous page' })),
};

export const Page = <T extends TSchema>(item: T) =>
  Type.Object({ data: Type.Array(item), next_cursor: Nullable(Type.String()) });

export const ErrorBody = Type.Object(
  {
    error: Type.Object({
      code: Type.String(),
      message: Type.String(),
      details: Type.Array(Type.Object({}, { additionalProperties: true })),
    }),
  },
  { $id: 'Error' },
);

export const errorResponses = {
  400: ErrorBody,
  401: ErrorBody,
  403: ErrorBody,
  404: ErrorBody,
  409: ErrorBody,
  422: ErrorBody,
};

export const IdParams = Type.Object({ id: Uuid }, { additionalProperties: false });
export const AccountParams = Type.Object({ account_id: Uuid }, { additionalProperties: false });
export const Strict = { additionalProperties: false } as const;

/** Organization roles. */
export const Role = Type.Union([Type.Literal('owner'), Type.Literal('admin'), Type.Literal('member')]);
