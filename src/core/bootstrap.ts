// Headless first setup (`signet bootstrap`): an organization, its first account with the default profiles,
// an owner with an active membership, and a fresh API key. Idempotent: the same email and organization name
// find the same organization, account and user, and only the key is new. It never prints a key the server would
// refuse: not for another environment than the database's, and not for a namesake organization someone else
// owns (unless a new organization is asked for).
import { sql } from 'kysely';
import type { Db } from '../db/connection.ts';
import type { ApiKeysService } from './api-keys/service.ts';
import { type Ctx, mutate } from './context.ts';
import { AppError } from './errors.ts';
import { newId } from './ids.ts';
import { readInstance, recordEnvironmentIfNone } from './instance.ts';
import { createOrganizationWithOwner } from './organizations/create.ts';
import { systemPrincipal } from './principal.ts';

export interface BootstrapInput {
  email: string;
  organizationName: string;
  accountName: string;
  passwordHash?: string | null;
  keyName?: string;
  /** Make a new organization even though one of that name exists with another owner. */
  newOrganization?: boolean;
}

export interface BootstrapResult {
  organization_id: string;
  account_id: string;
  user_id: string;
  api_key: string;
  created: boolean;
}

export async function bootstrap(
  db: Db,
  keys: ApiKeysService,
  environment: 'test' | 'live',
  input: BootstrapInput,
): Promise<BootstrapResult> {
  // The database records the environment its server runs in; a key of the other one would be refused there.
  const recorded = (await readInstance(db)).environment;
  if (recorded !== null && recorded !== environment) {
    throw new AppError(
      'environment_mismatch',
      `this database is served with SIGNET_ENV=${recorded}, and an sk_${environment}_ key would be refused there; ` +
        `run bootstrap with SIGNET_ENV=${recorded} (or start the server with SIGNET_ENV=${environment} first)`,
    );
  }
  // Serialise concurrent bootstraps of the same organization name.
  const found = await db.transaction().execute(async (trx) => {
    await sql`SELECT pg_advisory_xact_lock(hashtext(${`bootstrap:${input.organizationName}`}))`.execute(trx);
    const existing = await trx
      .selectFrom('organizations as o')
      .innerJoin('users as u', 'u.organization_id', 'o.id')
      .select(['o.id as organization_id', 'u.id as user_id'])
      .where('o.name', '=', input.organizationName)
      .where(sql`lower(u.email)`, '=', input.email.toLowerCase())
      .where('u.role', '=', 'owner')
      .orderBy('o.created_at')
      .executeTakeFirst();
    if (existing) {
      const account =
        (await trx
          .selectFrom('accounts')
          .select('id')
          .where('organization_id', '=', existing.organization_id)
          .where('name', '=', input.accountName)
          .orderBy('created_at')
          .executeTakeFirst()) ??
        (await trx
          .selectFrom('accounts')
          .select('id')
          .where('organization_id', '=', existing.organization_id)
          .orderBy('created_at')
          .executeTakeFirstOrThrow());
      return { ...existing, account_id: account.id, created: false };
    }
    if (!input.newOrganization) {
      const namesake = await trx
        .selectFrom('organizations')
        .select('id')
        .where('name', '=', input.organizationName)
        .executeTakeFirst();
      if (namesake) {
        throw new AppError(
          'name_taken',
          `an organization named "${input.organizationName}" exists already, with another owner than ${input.email}; ` +
            "give its owner's --email to get a key for it, or add --new-organization to make another one",
        );
      }
    }
    const orgId = newId();
    const ctx: Ctx = { principal: systemPrincipal(orgId, environment), meta: {} };
    return mutate(trx, ctx, async (t, audit) => {
      const { account, owner } = await createOrganizationWithOwner(t, audit, {
        organizationId: orgId,
        organizationName: input.organizationName,
        accountName: input.accountName,
        owner: { id: newId(), email: input.email, password_hash: input.passwordHash ?? null },
      });
      return { organization_id: orgId, account_id: account.id, user_id: owner.id, created: true };
    });
  });
  const ctx: Ctx = { principal: systemPrincipal(found.organization_id, environment), meta: {} };
  const key = await keys.create(ctx, {
    name: input.keyName ?? 'bootstrap',
    account_id: found.account_id,
    role: 'owner',
    created_by: found.user_id,
  });
  // A bootstrap before the first start records the environment; the server's own start has the last word.
  await recordEnvironmentIfNone(db, environment);
  return { ...found, api_key: key.key };
}
