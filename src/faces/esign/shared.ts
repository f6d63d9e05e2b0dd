// What the eSignature admin routes share: the {accountId} path segment (the account GUID or its integer
// account number, as DocuSign accepts both), position paging (start_position/count with eSignature's paging
// fields), and the small parsers that turn eSignature's loosely typed JSON (ids and booleans as strings) into
// what the core services take. Nothing here decides a rule: that is the core services' job.
import type { FastifyRequest } from 'fastify';
import type { Ctx } from '../../core/context.ts';
import { type AppError, invalidField, notFound } from '../../core/errors.ts';
import { isUuid } from '../../core/ids.ts';
import type { GroupType, MembershipStatus } from '../../core/types.ts';
import { readCtx } from '../docusign/ctx.ts';

export type Json = Record<string, unknown>;

/** eSignature's userStatus for a membership status (ActivationSent: invited, not yet active). */
export const USER_STATUS: Record<MembershipStatus, string> = {
  active: 'Active',
  pending: 'ActivationSent',
  closed: 'Closed',
};

/** eSignature's groupType for each kind of group (Administrators and Everyone are DocuSign's built-in ones). */
export const GROUP_TYPES: Record<GroupType, string> = {
  custom: 'customGroup',
  admin: 'adminGroup',
  everyone: 'everyoneGroup',
};

/** The path parameters every route under /v2.1/accounts/{accountId} has. */
export interface AccountParams {
  accountId: string;
}

/**
 * The account a request names: its GUID. The core services check the account again in their transaction.
 * `ctx` carries no idempotency hook: it is for reads; a write passes translatingCtx or emptyResponseCtx
 * (../docusign/ctx.ts).
 */
export async function accountOf(request: FastifyRequest): Promise<{ ctx: Ctx; accountId: string }> {
  const ctx = readCtx(request);
  const { accountId } = request.params as AccountParams;
  const account = await request.server.services.accounts.getByRef(ctx, accountId);
  return { ctx, accountId: account.id };
}

/** An object without its undefined and null fields: eSignature omits absent fields rather than send null. */
export function compact<T extends Json>(obj: T): T {
  return Object.fromEntries(Object.entries(obj).filter(([, v]) => v !== undefined && v !== null)) as T;
}

export const iso = (d: Date | string): string => (d instanceof Date ? d : new Date(d)).toISOString();

/** An optional string field of a body: strings pass, numbers are written out, anything else is a 400. */
export function optString(body: Json, field: string, max = 500): string | undefined {
  const v = body[field];
  if (v === undefined || v === null) return undefined;
  if (typeof v === 'number' && Number.isFinite(v)) return String(v);
  if (typeof v !== 'string') throw invalidField(field, 'must be a string');
  if (v.length > max) throw invalidField(field, `must be at most ${max} characters`);
  return v;
}

/** A field of a batch item echoed beside its errorDetails: a string or a number as text, else left out. */
export function textOf(v: unknown): string | undefined {
  return typeof v === 'string' || (typeof v === 'number' && Number.isFinite(v)) ? String(v) : undefined;
}

/** eSignature's booleans: true/false or the strings "true"/"false" (any case). */
export function optBool(body: Json, field: string): boolean | undefined {
  const v = body[field];
  if (v === undefined || v === null || v === '') return undefined;
  if (typeof v === 'boolean') return v;
  if (typeof v === 'string' && /^(true|false)$/i.test(v)) return v.toLowerCase() === 'true';
  throw invalidField(field, 'must be "true" or "false"');
}

/** An integer id given as a number or a string of digits; anything else is `onBad()`. */
export function intId(value: unknown, onBad: () => AppError): number {
  const text = typeof value === 'number' ? String(value) : typeof value === 'string' ? value.trim() : '';
  if (!/^\d{1,15}$/.test(text)) throw onBad();
  const n = Number(text);
  if (!Number.isSafeInteger(n) || n <= 0 || n > 2 ** 53) throw onBad();
  return n;
}

/** A GUID path segment; anything else is the resource's 404 (a malformed id names nothing). */
export function guid(value: string, what: string): string {
  if (!isUuid(value)) throw notFound(what, value);
  return value.toLowerCase();
}

/** A body's list field: absent is empty, anything but an array of objects is a 400. */
export function listOf(body: unknown, field: string, max = 100): Json[] {
  if (body === undefined || body === null) return [];
  if (typeof body !== 'object' || Array.isArray(body)) throw invalidField('(root)', 'must be a JSON object');
  const v = (body as Json)[field];
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v) || v.some((x) => typeof x !== 'object' || x === null || Array.isArray(x))) {
    throw invalidField(field, 'must be a list of objects');
  }
  if (v.length > max) throw invalidField(field, `at most ${max} items per request`);
  return v as Json[];
}

/** The request body as an object (eSignature's SDK sends {} for a body-less PUT/DELETE). */
export function bodyOf(request: FastifyRequest): Json {
  const body = request.body;
  if (body === undefined || body === null) return {};
  if (typeof body !== 'object' || Array.isArray(body) || Buffer.isBuffer(body)) {
    throw invalidField('(root)', 'must be a JSON object');
  }
  return body as Json;
}

export interface Window {
  offset: number;
  limit: number;
}

/** start_position (from 0) and count (1 to `max`, default `max`) of a list request. */
export function windowOf(query: Json, max = 100): Window {
  const parse = (field: string, fallback: number, min: number): number => {
    const v = query[field];
    if (v === undefined || v === '') return fallback;
    if (typeof v !== 'string' || !/^\d{1,9}$/.test(v)) throw invalidField(field, 'must be a whole number');
    const n = Number(v);
    if (n < min) throw invalidField(field, `must be at least ${min}`);
    return n;
  };
  return { offset: parse('start_position', 0, 0), limit: Math.min(parse('count', max, 1), max) };
}

/**
 * eSignature's paging fields for one window of `total` results. nextUri and previousUri repeat the request's
 * path and query with start_position moved (relative to /restapi, as DocuSign writes them); absent at the ends.
 */
export function pagingOf(request: FastifyRequest, w: Window, size: number, total: number): Json {
  const [path = '', search = ''] = request.url.split('?');
  const relative = path.replace(/^\/restapi/i, '');
  const uriAt = (start: number) => {
    const params = new URLSearchParams({ start_position: String(start), count: String(w.limit) });
    for (const [k, v] of new URLSearchParams(search)) {
      if (k !== 'start_position' && k !== 'count') params.append(k, v);
    }
    return `${relative}?${params.toString()}`;
  };
  return compact({
    resultSetSize: String(size),
    startPosition: String(w.offset),
    endPosition: size > 0 ? String(w.offset + size - 1) : undefined,
    totalSetSize: String(total),
    nextUri: w.offset + size < total ? uriAt(w.offset + size) : undefined,
    previousUri: w.offset > 0 ? uriAt(Math.max(0, w.offset - w.limit)) : undefined,
  });
}

/** Every item of a cursor-paged core list (for lists eSignature returns whole: profiles, brands). */
export async function all<T>(
  fetch: (cursor: string | undefined) => Promise<{ data: T[]; next_cursor: string | null }>,
): Promise<T[]> {
  const out: T[] = [];
  let cursor: string | undefined;
  do {
    const page = await fetch(cursor);
    out.push(...page.data);
    cursor = page.next_cursor ?? undefined;
  } while (cursor);
  return out;
}
