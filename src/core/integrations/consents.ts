// Consent: the OAuth scopes an integration may obtain on a user's behalf. The JWT grant issues nothing without
// it (DocuSign answers consent_required). It is given by the user (the consent page of /oauth/auth, through
// recordUserConsent) or by the organization's owners and admins (the API): for one user, or for every user of
// the organization at once (user_id null). Granting adds scopes to the consent already there; narrowing is a
// revoke and a new grant. A revoked consent stops new tokens at once (lookup.ts reads it uncached).
//
// Nobody grants more than they hold: a consent for one user needs a role at or above that user's
// (src/core/roles.ts), a consent for every user covers the owners too and so needs an owner, and a
// restricted key grants only scopes whose Signet permissions it holds itself.
import type { Db } from '../../db/connection.ts';
import type { OauthConsentRow } from '../../db/schema.ts';
import { DOCUSIGN_SCOPES, docuSignScopesToSignet, scopeGrants } from '../api-keys/scopes.ts';
import type { AuditBuffer } from '../audit/writer.ts';
import { type Ctx, mutate } from '../context.ts';
import { AppError, invalidField } from '../errors.ts';
import { newId } from '../ids.ts';
import { DEFAULT_LIMIT, decodeCursor, type Page, toPage } from '../pagination.ts';
import { requireMayManageRole } from '../roles.ts';
import { type ConsentView, lockIntegration, ownIntegration, revokeChild } from './rows.ts';

/** The scope names a consent can hold: DocuSign's OAuth scopes that Signet knows. */
export const CONSENT_SCOPES = Object.keys(DOCUSIGN_SCOPES);

export interface ConsentInput {
  scopes: string[];
  /** Absent or null: every user of the organization. */
  user_id?: string | null;
}

const CONSENT = {
  table: 'oauth_consents',
  resource: 'consent',
  targetType: 'oauth_consent',
  view: (row: ConsentView) => row,
  extra: (row: ConsentView) => ({ user_id: row.user_id }),
} as const;

/** Known scope names, duplicates dropped, sorted; a 400 naming the unknown ones otherwise. */
function checkScopes(scopes: readonly string[]): string[] {
  if (scopes.length === 0) throw invalidField('scopes', 'give at least one scope');
  const unknown = scopes.filter((s) => !CONSENT_SCOPES.includes(s));
  if (unknown.length > 0) {
    throw new AppError(
      'validation_failed',
      `scopes: unknown scope ${unknown.map((s) => `"${s}"`).join(', ')}; known scopes are ${CONSENT_SCOPES.join(', ')}`,
      unknown.map((s) => ({ field: 'scopes', message: `unknown scope "${s}"`, scope: s })),
    );
  }
  return [...new Set(scopes)].sort();
}

/**
 * Adds `scopes` to the live consent of (integration, user) or makes one. Unchanged when it already holds
 * them all (nothing is written or audited). `created` says whether a consent was made.
 */
async function upsertConsent(
  trx: Db,
  audit: AuditBuffer,
  row: Pick<OauthConsentRow, 'organization_id' | 'integration_id' | 'user_id' | 'granted_by'>,
  scopes: string[],
  by: 'admin' | 'user',
): Promise<{ consent: ConsentView; created: boolean }> {
  let existing = trx
    .selectFrom('oauth_consents')
    .selectAll()
    .where('integration_id', '=', row.integration_id)
    .where('revoked_at', 'is', null);
  existing =
    row.user_id === null
      ? existing.where('user_id', 'is', null)
      : existing.where('user_id', '=', row.user_id);
  const before = await existing.executeTakeFirst();
  const extra = { integration_id: row.integration_id, user_id: row.user_id, by };
  if (before) {
    const united = [...new Set([...before.scopes, ...scopes])].sort();
    if (united.length === before.scopes.length) return { consent: before, created: false };
    const after = await trx
      .updateTable('oauth_consents')
      .set({ scopes: united })
      .where('id', '=', before.id)
      .returningAll()
      .executeTakeFirstOrThrow();
    audit.record({
      action: 'oauth_consent.granted',
      targetType: 'oauth_consent',
      targetId: after.id,
      before,
      after,
      extra,
    });
    return { consent: after, created: false };
  }
  const consent = await trx
    .insertInto('oauth_consents')
    .values({ id: newId(), ...row, scopes })
    .returningAll()
    .executeTakeFirstOrThrow();
  audit.record({
    action: 'oauth_consent.granted',
    targetType: 'oauth_consent',
    targetId: consent.id,
    after: consent,
    extra,
  });
  return { consent, created: true };
}

export class ConsentsService {
  constructor(private readonly db: Db) {}

  /** An owner's or admin's consent, for one user of the organization or (user_id null) for all of them. */
  async grant(
    ctx: Ctx,
    integrationId: string,
    input: ConsentInput,
  ): Promise<{ consent: ConsentView; created: boolean }> {
    const { principal } = ctx;
    const scopes = checkScopes(input.scopes);
    const userId = input.user_id ?? null;
    if (userId === null && principal.role !== 'owner') {
      throw new AppError(
        'permission_denied',
        `consent for every user of the organization covers its owners, so only an owner grants it; this ${principal.kind === 'api_key' ? 'API key' : 'principal'} acts as a ${principal.role} (name one user with user_id)`,
        [{ field: 'user_id', message: 'an organization-wide consent needs the owner role' }],
      );
    }
    const missing = [...scopeGrants(docuSignScopesToSignet(scopes))].filter(
      (p) => !principal.permissions.has(p),
    );
    if (missing.length > 0) {
      throw new AppError(
        'permission_denied',
        `the scopes ${scopes.join(' ')} reach ${missing.join(', ')}, which this ${principal.kind === 'api_key' ? 'API key' : 'principal'} does not hold${principal.scopes ? ` (it is restricted to scopes ${principal.scopes.join(', ')})` : ''}; nobody grants more than they hold`,
        [{ field: 'scopes', message: 'beyond your own permissions', missing }],
      );
    }
    return mutate(this.db, ctx, async (trx, audit) => {
      await lockIntegration(trx, ctx, integrationId);
      if (userId !== null) {
        const user = await trx
          .selectFrom('users')
          .select(['id', 'role'])
          .where('id', '=', userId)
          .where('organization_id', '=', principal.organizationId)
          .executeTakeFirst();
        if (!user)
          throw invalidField('user_id', `no user ${userId} in this organization`, 'invalid_reference');
        requireMayManageRole(principal.role, user, 'grant consent for');
      }
      return upsertConsent(
        trx,
        audit,
        {
          organization_id: principal.organizationId,
          integration_id: integrationId,
          user_id: userId,
          granted_by: principal.userId,
        },
        scopes,
        'admin',
      );
    });
  }

  /**
   * The signed-in user's own consent (the consent page of /oauth/auth): for the user the principal is, to an
   * integration of the user's organization. No permission is needed to consent for oneself: a token is never
   * more than its user (docs/oauth.md).
   */
  async recordUserConsent(ctx: Ctx, integrationId: string, scopes: string[]): Promise<ConsentView> {
    const userId = ctx.principal.userId;
    if (!userId) throw new AppError('permission_denied', 'only a signed-in user consents for themselves');
    const checked = checkScopes(scopes);
    return mutate(this.db, ctx, async (trx, audit) => {
      await lockIntegration(trx, ctx, integrationId);
      const { consent } = await upsertConsent(
        trx,
        audit,
        {
          organization_id: ctx.principal.organizationId,
          integration_id: integrationId,
          user_id: userId,
          granted_by: userId,
        },
        checked,
        'user',
      );
      return consent;
    });
  }

  /** The integration's consents, revoked ones included, oldest first. */
  async list(
    ctx: Ctx,
    integrationId: string,
    q: { limit?: number; cursor?: string },
  ): Promise<Page<ConsentView>> {
    const limit = q.limit ?? DEFAULT_LIMIT;
    const after = decodeCursor(q.cursor);
    await ownIntegration(this.db, ctx, integrationId);
    let query = this.db
      .selectFrom('oauth_consents')
      .selectAll()
      .where('integration_id', '=', integrationId)
      .orderBy('id')
      .limit(limit + 1);
    if (after) query = query.where('id', '>', after);
    return toPage(await query.execute(), limit, (r) => r.id);
  }

  /** Stops the consent at once: no new token is issued on it. Revoking it again answers the same. */
  async revoke(ctx: Ctx, integrationId: string, consentId: string): Promise<ConsentView> {
    return mutate(this.db, ctx, (trx, audit) =>
      revokeChild(trx, ctx, audit, CONSENT, integrationId, consentId),
    );
  }
}
