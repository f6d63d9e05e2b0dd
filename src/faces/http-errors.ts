// Turns whatever a request threw into an AppError from the registry: our own errors pass through; Fastify's
// (validation, body parsing, size, media type) are translated with the offending field named. Each face
// renders the result in its own dialect.
import type { FastifyError } from 'fastify';
import { AppError, busy, type ErrorDetail, isRetryableConflict } from '../core/errors.ts';

interface AjvError {
  keyword: string;
  instancePath: string;
  message?: string;
  params: Record<string, unknown>;
}

function fieldOf(e: AjvError): string {
  const base = e.instancePath.replace(/^\//, '').replace(/\//g, '.');
  const extra = (e.params.missingProperty ?? e.params.additionalProperty) as string | undefined;
  return [base, extra].filter(Boolean).join('.') || '(root)';
}

function describe(e: AjvError): string {
  if (e.keyword === 'additionalProperties') return 'unknown field';
  if (e.keyword === 'required') return 'is required';
  if (e.keyword === 'enum' || e.keyword === 'const' || e.keyword === 'anyOf') {
    const allowed = (e.params.allowedValues as unknown[] | undefined) ?? undefined;
    return allowed
      ? `must be one of ${allowed.map((v) => JSON.stringify(v)).join(', ')}`
      : (e.message ?? 'invalid value');
  }
  return e.message ?? 'is invalid';
}

/**
 * One detail per field. A union of literals fails once per literal (plus the anyOf itself); those are folded
 * into a single "must be one of …" so the message lists what is allowed.
 */
function validationError(where: string, errors: AjvError[]): AppError {
  const byField = new Map<string, AjvError[]>();
  for (const err of errors) {
    const field = fieldOf(err);
    byField.set(field, [...(byField.get(field) ?? []), err]);
  }
  const details: ErrorDetail[] = [...byField].map(([field, errs]) => {
    const literals = errs.filter((x) => x.keyword === 'const').map((x) => x.params.allowedValue);
    const message =
      literals.length > 0
        ? `must be one of ${literals.map((v) => JSON.stringify(v)).join(', ')}`
        : describe(errs.find((x) => x.keyword !== 'anyOf') ?? errs[0]!);
    return { field, message, location: where };
  });
  const first = details[0]!;
  return new AppError('validation_failed', `${where}.${first.field}: ${first.message}`, details);
}

export function toAppError(err: unknown): AppError {
  if (err instanceof AppError) return err;
  // A deadlock or serialization failure outside mutate() (which retries its own): nothing was written.
  if (isRetryableConflict(err)) return busy();
  const e = err as FastifyError & { validation?: AjvError[]; validationContext?: string };
  if (Array.isArray(e.validation) && e.validation.length > 0) {
    return validationError(e.validationContext ?? 'request', e.validation);
  }
  switch (e.code) {
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new AppError(
        'unsupported_media_type',
        `unsupported Content-Type; this endpoint takes application/json`,
      );
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new AppError('body_too_large', 'the request body is larger than this endpoint accepts');
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return new AppError('invalid_json', 'the body is empty but Content-Type says application/json');
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return new AppError('invalid_request', 'Content-Length does not match the body');
  }
  if (e instanceof SyntaxError || e.code === 'FST_ERR_CTP_INVALID_JSON_BODY') {
    return new AppError('invalid_json', `the body is not valid JSON: ${e.message}`);
  }
  if (typeof e.statusCode === 'number' && e.statusCode >= 400 && e.statusCode < 500) {
    if (e.statusCode === 404) return new AppError('not_found', e.message);
    if (e.statusCode === 413) return new AppError('body_too_large', e.message);
    if (e.statusCode === 415) return new AppError('unsupported_media_type', e.message);
    return new AppError('invalid_request', e.message);
  }
  return new AppError(
    'internal_error',
    'internal error; the request id in X-Request-Id finds it in the server log',
  );
}
