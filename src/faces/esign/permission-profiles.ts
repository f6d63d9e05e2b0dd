// eSignature permission profiles: AccountsApi.listPermissions, createPermissionProfile, getPermissionProfile,
// updatePermissionProfile, deletePermissionProfile (?move_users_to). permissionProfileId is Signet's integer
// profile id as a string. The rules are the permission profiles service's (/api).
//
// A profile's `settings` (AccountRoleSettings) are read and written by the core's one mapping
// (src/core/permission-profiles/role-settings.ts): the flags Signet enforces are its permissions, every other
// field is kept as sent and returned unchanged. On create, unmapped permissions are off; on update, fields the
// body does not name keep their present value.
import type { FastifyInstance } from 'fastify';
import { invalidField, notFound } from '../../core/errors.ts';
import { roleSettingsOf } from '../../core/permission-profiles/role-settings.ts';
import type { PermissionProfileView } from '../../core/permission-profiles/service.ts';
import { emptyResponseCtx, translatingCtx } from '../docusign/ctx.ts';
import { accountOf, bodyOf, intId, iso, type Json, optString } from './shared.ts';

const READ = { docusignScope: 'signature', permission: 'profiles:read' } as const;
const WRITE = { docusignScope: 'signature', permission: 'profiles:write' } as const;
/** createPermissionProfile answers 201: the status stored with the effect under an Idempotency-Key. */
const CREATE = { ...WRITE, idempotency: { status: 201 } } as const;

function profile(p: PermissionProfileView): Json {
  return {
    permissionProfileId: String(p.id),
    permissionProfileName: p.name,
    modifiedDateTime: iso(p.updated_at),
    userCount: String(p.user_count),
    settings: roleSettingsOf(p.permissions, p.role_settings),
  };
}

const profileIdOf = (raw: unknown) => intId(raw, () => notFound('permission profile', String(raw ?? '')));

export async function permissionProfileRoutes(fastify: FastifyInstance): Promise<void> {
  const profiles = fastify.services.permissionProfiles;
  const path = '/v2.1/accounts/:accountId/permission_profiles';

  fastify.get(path, { config: READ }, async (request) => {
    const { ctx, accountId } = await accountOf(request);
    const all: PermissionProfileView[] = [];
    let cursor: string | undefined;
    do {
      const page = await profiles.list(ctx, accountId, { limit: 500, cursor });
      all.push(...page.data);
      cursor = page.next_cursor ?? undefined;
    } while (cursor);
    return { permissionProfiles: all.map(profile) };
  });

  fastify.post(path, { config: CREATE }, async (request, reply) => {
    const { accountId } = await accountOf(request);
    const body = bodyOf(request);
    const name = optString(body, 'permissionProfileName', 100);
    if (name === undefined) throw invalidField('permissionProfileName', 'is required');
    const created = await profiles.create(translatingCtx(request, profile), accountId, {
      name,
      role_settings: body.settings,
    });
    return reply.code(201).send(profile(created));
  });

  fastify.get(`${path}/:permissionProfileId`, { config: READ }, async (request) => {
    const { ctx, accountId } = await accountOf(request);
    const id = profileIdOf((request.params as Json).permissionProfileId);
    return profile(await profiles.get(ctx, accountId, id));
  });

  fastify.put(`${path}/:permissionProfileId`, { config: WRITE }, async (request) => {
    const { accountId } = await accountOf(request);
    const id = profileIdOf((request.params as Json).permissionProfileId);
    const body = bodyOf(request);
    const updated = await profiles.update(translatingCtx(request, profile), accountId, id, {
      name: optString(body, 'permissionProfileName', 100),
      role_settings: body.settings,
    });
    return profile(updated);
  });

  fastify.delete(`${path}/:permissionProfileId`, { config: WRITE }, async (request, reply) => {
    const { accountId } = await accountOf(request);
    const id = profileIdOf((request.params as Json).permissionProfileId);
    const move = (request.query as Json).move_users_to;
    const moveTo =
      move === undefined || move === ''
        ? undefined
        : intId(move, () =>
            invalidField('move_users_to', `no permission profile ${String(move)}`, 'invalid_reference'),
          );
    await profiles.delete(emptyResponseCtx(request), accountId, id, moveTo);
    return reply.code(200).send();
  });
}
