// Translation between Signet's users and memberships and the Admin API's wire shapes (snake_case, GUIDs,
// integer permission profile and group ids, ISO-8601 dates; absent values omitted, never null, and arrays
// always arrays: the SDK crashes on a null array and turns a null string into "null").
import { type TSchema, Type } from '@sinclair/typebox';
import type { FastifyRequest } from 'fastify';
import { EMAIL_MAX_LENGTH } from '../../core/email.ts';
import { AppError } from '../../core/errors.ts';
import type { MembershipStatus, UserStatus } from '../../core/types.ts';
import type { MembershipLabels, MembershipView, UserView } from '../../core/users/service.ts';

// --- request schemas ------------------------------------------------------------------------------------

export const Guid = Type.String({ format: 'uuid' });
/** int64 ids (permission profiles, groups): the SDK sends numbers; scripts sometimes send digit strings. */
export const Int64 = Type.Union([
  Type.Integer({ minimum: 1, maximum: Number.MAX_SAFE_INTEGER }),
  Type.String({ pattern: '^[1-9][0-9]{0,15}$' }),
]);
export const EmailAddress = Type.String({ format: 'email', minLength: 3, maxLength: EMAIL_MAX_LENGTH });
const Name = Type.String({ maxLength: 100 });
export const Text = Type.String({ maxLength: 200 });
/** DocuSign sends fields Signet has no use for (site_id, federated_status, access_code…): they are accepted. */
export const Open = { additionalProperties: true } as const;
export const Optional = <T extends TSchema>(schema: T) => Type.Optional(schema);

export const PermissionProfileRef = Type.Object({ id: Int64, name: Type.Optional(Type.String()) }, Open);
export const GroupRefs = Type.Array(Type.Object({ id: Int64 }, Open), { maxItems: 100 });

/** Name fields of NewUserRequest, NewAccountUserRequest and UpdateUserRequest. */
export const NameFields = {
  user_name: Optional(Type.String({ maxLength: 201 })),
  first_name: Optional(Name),
  last_name: Optional(Name),
  language_culture: Optional(Type.String({ maxLength: 20 })),
};

export const OrgParams = Type.Object({ organizationId: Guid });

// --- statuses -------------------------------------------------------------------------------------------

/** Signet's user status as DocuSign's user_status: a deactivated user is a closed one. */
export function userStatus(status: UserStatus): 'active' | 'closed' {
  return status === 'deactivated' ? 'closed' : 'active';
}

/** Signet's membership status as DocuSign's: pending is awaiting activation. */
export function membershipStatus(status: MembershipStatus): 'active' | 'closed' | 'activation_required' {
  return status === 'pending' ? 'activation_required' : status;
}

export const USER_STATUSES = ['active', 'created', 'closed'] as const;
export const MEMBERSHIP_STATUSES = [
  'activation_required',
  'activation_sent',
  'active',
  'closed',
  'disabled',
] as const;

/**
 * DocuSign's status filter values as Signet's; `null` for a status Signet users never have (a filter on it
 * matches nobody).
 */
export function userStatusFilter(status: (typeof USER_STATUSES)[number]): UserStatus | null {
  return status === 'closed' ? 'deactivated' : status === 'active' ? 'active' : null;
}

export function membershipStatusFilter(
  status: (typeof MEMBERSHIP_STATUSES)[number],
): MembershipStatus | null {
  switch (status) {
    case 'active':
    case 'closed':
      return status;
    case 'activation_required':
    case 'activation_sent':
      return 'pending';
    default:
      return null;
  }
}

// --- names ----------------------------------------------------------------------------------------------

/** DocuSign's user_name is the full name. */
export function fullName(user: { first_name: string; last_name: string }): string {
  return `${user.first_name} ${user.last_name}`.trim();
}

/** First and last name from a request: as given, else split from user_name at its last space. */
export function namesOf(body: { user_name?: string; first_name?: string; last_name?: string }): {
  first_name?: string;
  last_name?: string;
} {
  const out: { first_name?: string; last_name?: string } = {};
  if (body.first_name !== undefined) out.first_name = body.first_name;
  if (body.last_name !== undefined) out.last_name = body.last_name;
  const full = body.user_name?.trim();
  if (full && body.first_name === undefined && body.last_name === undefined) {
    const cut = full.lastIndexOf(' ');
    out.first_name = (cut < 0 ? full : full.slice(0, cut)).slice(0, 100);
    out.last_name = cut < 0 ? '' : full.slice(cut + 1).slice(0, 100);
  }
  return out;
}

// --- responses ------------------------------------------------------------------------------------------

const iso = (d: Date | string): string => new Date(d).toISOString();

/** Puts `value` under `key` unless it is null or undefined (the SDK reads a null string as "null"). */
function put<T extends object>(target: T, key: string, value: unknown): T {
  if (value !== null && value !== undefined) (target as Record<string, unknown>)[key] = value;
  return target;
}

export function profileOf(m: MembershipView, labels: MembershipLabels) {
  if (m.permission_profile_id == null) return undefined;
  const id = Number(m.permission_profile_id);
  return put({ id }, 'name', labels.profiles.get(id));
}

/** The Admin API's MemberGroupResponse.type of a Signet group type. */
export function adminGroupType(type: 'custom' | 'admin' | 'everyone'): string {
  return `${type}_group`;
}

export function groupsOf(m: MembershipView, labels: MembershipLabels) {
  // The account's own groups are DocuSign's custom_group; Administrators and Everyone are built in.
  return m.group_ids.map((raw) => {
    const id = Number(raw);
    return put(
      { id, type: adminGroupType(labels.builtinGroups.get(id) ?? 'custom') },
      'name',
      labels.groups.get(id),
    );
  });
}

/** The fields every user response opens with. */
function userHead(user: UserView) {
  return { id: user.id, user_name: fullName(user), first_name: user.first_name, last_name: user.last_name };
}

/** OrganizationUserResponse: one row per user; membership fields from the membership in `accountId`. */
export function organizationUser(user: UserView, accountId?: string) {
  const m = accountId ? user.memberships.find((x) => x.account_id === accountId) : user.memberships[0];
  const out = {
    ...userHead(user),
    user_status: userStatus(user.status),
    email: user.email,
    created_on: iso(user.created_at),
    is_managed_by_scim: false,
  };
  if (m) {
    Object.assign(out, {
      membership_id: m.id,
      membership_status: membershipStatus(m.status),
      membership_created_on: iso(m.created_at),
      is_membership_managed_by_scim: false,
    });
    if (m.closed_at) put(out, 'membership_closed_on', iso(m.closed_at));
  }
  return out;
}

/** NewUserResponse: the user and the memberships the request was about (all of them when `accounts` is absent). */
export function newUserResponse(user: UserView, labels: MembershipLabels, accounts?: readonly string[]) {
  const memberships = accounts
    ? user.memberships.filter((m) => accounts.includes(m.account_id))
    : user.memberships;
  const out = {
    ...userHead(user),
    email: user.email,
    accounts: memberships.map((m) => {
      const account = put(
        { id: m.account_id, groups: groupsOf(m, labels) },
        'permission_profile',
        profileOf(m, labels),
      );
      put(account, 'company_name', user.company);
      put(account, 'job_title', user.job_title);
      return account;
    }),
  };
  return put(out, 'language_culture', user.language);
}

/** UserDrilldownResponse (users/profile?email=): the user with every membership. */
export function userDrilldown(user: UserView, labels: MembershipLabels) {
  const first = user.memberships[0];
  const out = {
    ...userHead(user),
    user_status: userStatus(user.status),
    is_organization_admin: user.role !== 'member',
    created_on: iso(user.created_at),
    is_managed_by_scim: false,
    memberships: user.memberships.map((m) => {
      const account = labels.accounts.get(m.account_id);
      const membership = {
        id: m.id,
        email: user.email,
        account_id: m.account_id,
        is_external_account: false,
        status: membershipStatus(m.status),
        created_on: iso(m.created_at),
        groups: groupsOf(m, labels),
      };
      put(membership, 'account_name', account?.name);
      put(membership, 'external_account_id', account ? String(account.external_account_id) : undefined);
      put(membership, 'permission_profile', profileOf(m, labels));
      return membership;
    }),
    identities: [],
  };
  if (first) {
    put(out, 'default_account_id', first.account_id);
    put(out, 'default_account_name', labels.accounts.get(first.account_id)?.name);
  }
  return put(out, 'language_culture', user.language);
}

/** ErrorDetails for a per-item failure inside a 200 response. */
function errorDetails(err: AppError): { error: string; error_description: string } {
  return { error: err.code, error_description: err.message };
}

/**
 * The response body of a per-item batch (updateUser, updateEmailAddress) from the core's outcomes, one per
 * item in order: `done(result, item)` for an item made, `failed(item)` with its error_details (the error's
 * fields renamed by `names`) for one refused. `success` is true when no item failed.
 */
export function itemResults<T, R>(
  items: readonly T[],
  outcomes: readonly ({ ok: true; user: R } | { ok: false; error: AppError })[],
  done: (result: R, item: T) => object,
  failed: (item: T) => object,
  names: Record<string, string> = {},
): { success: boolean; results: object[] } {
  const results = outcomes.map((o, i) =>
    o.ok
      ? done(o.user, items[i]!)
      : { ...failed(items[i]!), error_details: errorDetails(renamed(o.error, names)) },
  );
  return { success: outcomes.every((o) => o.ok), results };
}

/**
 * The error with the field it names (Signet's input names) rewritten into the request's own (DocuSign's), so
 * a client sees `accounts.permission_profile.id: no permission profile 9 in account …`.
 */
function renamed(err: AppError, names: Record<string, string>): AppError {
  const field = err.details.find((d) => d.field && names[d.field])?.field;
  if (!field) return err;
  const to = names[field]!;
  const message = err.message.startsWith(`${field}:`)
    ? `${to}:${err.message.slice(field.length + 1)}`
    : err.message;
  return new AppError(
    err.code,
    message,
    err.details.map((d) => (d.field && names[d.field] ? { ...d, field: names[d.field] } : d)),
  );
}

/** A core call whose error names fields as the request does (renamed). */
export async function withFieldNames<T>(call: Promise<T>, names: Record<string, string>): Promise<T> {
  try {
    return await call;
  } catch (err) {
    throw err instanceof AppError ? renamed(err, names) : err;
  }
}

// --- paging ---------------------------------------------------------------------------------------------

export const DEFAULT_TAKE = 20;
export const MAX_TAKE = 500;

export const PagingQuery = {
  start: Optional(Type.Integer({ minimum: 0, maximum: 1_000_000_000 })),
  take: Optional(Type.Integer({ minimum: 1, maximum: MAX_TAKE })),
  end: Optional(Type.Integer({ minimum: 0, maximum: 1_000_000_000 })),
};

/** start/take/end as DocuSign reads them: take wins over end; end is the last position wanted. */
export function window(q: { start?: number; take?: number; end?: number }): { start: number; take: number } {
  const start = q.start ?? 0;
  if (q.take !== undefined) return { start, take: q.take };
  if (q.end !== undefined) {
    if (q.end < start) {
      throw new AppError('validation_failed', `end: must not be before start (${start})`, [
        { field: 'end', message: 'before start' },
      ]);
    }
    return { start, take: Math.min(q.end - start + 1, MAX_TAKE) };
  }
  return { start, take: DEFAULT_TAKE };
}

/**
 * PagingResponseProperties for `count` items at `start` out of `total`; next/previous are full URLs (the
 * request's own, with start moved), omitted at the ends.
 */
export function paging(request: FastifyRequest, start: number, take: number, count: number, total: number) {
  const at = (position: number) => {
    const url = new URL(request.url, `${request.protocol}://${request.host}`);
    url.searchParams.delete('end');
    url.searchParams.set('start', String(position));
    url.searchParams.set('take', String(take));
    return url.toString();
  };
  const out = {
    result_set_size: count,
    result_set_start_position: start,
    result_set_end_position: count > 0 ? start + count - 1 : start,
    total_set_size: total,
  };
  if (start + count < total) put(out, 'next', at(start + count));
  if (start > 0) put(out, 'previous', at(Math.max(0, start - take)));
  return out;
}
