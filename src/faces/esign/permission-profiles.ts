// eSignature permission profiles: AccountsApi.listPermissions, createPermissionProfile, getPermissionProfile,
// updatePermissionProfile, deletePermissionProfile (?move_users_to). permissionProfileId is Signet's integer
// profile id as a string. The rules are the permission profiles service's (/api).
//
// Signet's profile permissions and eSignature's AccountRoleSettings flags (string "true"/"false"), by the
// names the docusign-esign SDK's models carry (AccountRoleSettings, AccountManagementGranular), since the SDK
// drops any other name when it reads a response:
//
//   send_envelopes              settings.allowEnvelopeSending
//   manage_users                settings.accountManagementGranular.allowManageUsers
//   manage_groups               settings.accountManagementGranular.allowManageGroupsButNotUsers
//   manage_permission_profiles  settings.accountManagementGranular.allowManageAdmins
//   manage_account_settings     settings.accountManagementGranular.allowManageAccountSettings
//   view_audit_log              settings.accountManagementGranular.allowManageReporting
//   manage_brands, manage_api_keys: no eSignature flag; shown only through /api, kept as they are by a PUT.
//
// settings.allowAccountManagement is shown ("true" when any manage_* permission above is granted) but is
// derived, not read. Every other flag DocuSign has (some fifty) is IGNORED on input rather than refused: a
// profile copied from DocuSign carries them all, and Signet has no permission for them. A mapped flag whose
// value is not true/false is a 400. On create, unmapped permissions are off; on update, flags the body does
// not name keep their present value.
import type { FastifyInstance } from 'fastify';
import { invalidField, notFound } from '../../core/errors.ts';
import type { PermissionProfileView } from '../../core/permission-profiles/service.ts';
import type { ProfilePermission } from '../../core/principal.ts';
import { sentResponseCtx, translatingCtx } from '../docusign/ctx.ts';
import { accountOf, bodyOf, intId, iso, type Json, optBool, optString } from './shared.ts';

const READ = { docusignScope: 'signature', permission: 'profiles:read' } as const;
const WRITE = { docusignScope: 'signature', permission: 'profiles:write' } as const;
/** createPermissionProfile answers 201: the status stored with the effect under an Idempotency-Key. */
const CREATE = { ...WRITE, idempotency: { status: 201 } } as const;

/** [Signet permission, flag in settings, or in settings.accountManagementGranular]. */
const FLAGS: [ProfilePermission, 'settings' | 'granular', string][] = [
  ['send_envelopes', 'settings', 'allowEnvelopeSending'],
  ['manage_users', 'granular', 'allowManageUsers'],
  ['manage_groups', 'granular', 'allowManageGroupsButNotUsers'],
  ['manage_permission_profiles', 'granular', 'allowManageAdmins'],
  ['manage_account_settings', 'granular', 'allowManageAccountSettings'],
  ['view_audit_log', 'granular', 'allowManageReporting'],
];
const ADMIN: ProfilePermission[] = [
  'manage_users',
  'manage_groups',
  'manage_permission_profiles',
  'manage_account_settings',
];

function settingsOf(permissions: readonly string[]): Json {
  const has = (p: string) => String(permissions.includes(p));
  const settings: Json = { allowAccountManagement: String(ADMIN.some((p) => permissions.includes(p))) };
  const granular: Json = {};
  for (const [permission, where, flag] of FLAGS) {
    (where === 'settings' ? settings : granular)[flag] = has(permission);
  }
  settings.accountManagementGranular = granular;
  return settings;
}

/** The permissions a body's settings set (true) and clear (false); flags it does not name are in neither. */
function flagsOf(body: Json): { set: Set<string>; cleared: Set<string> } {
  const set = new Set<string>();
  const cleared = new Set<string>();
  const settings = body.settings;
  if (settings === undefined || settings === null) return { set, cleared };
  if (typeof settings !== 'object' || Array.isArray(settings))
    throw invalidField('settings', 'must be an object');
  const granular = (settings as Json).accountManagementGranular;
  if (
    granular !== undefined &&
    granular !== null &&
    (typeof granular !== 'object' || Array.isArray(granular))
  ) {
    throw invalidField('settings.accountManagementGranular', 'must be an object');
  }
  for (const [permission, where, flag] of FLAGS) {
    const from = (where === 'settings' ? settings : (granular ?? {})) as Json;
    let value: boolean | undefined;
    try {
      value = optBool(from, flag);
    } catch {
      const path = where === 'settings' ? `settings.${flag}` : `settings.accountManagementGranular.${flag}`;
      throw invalidField(path, 'must be "true" or "false"');
    }
    if (value === true) set.add(permission);
    if (value === false) cleared.add(permission);
  }
  return { set, cleared };
}

function profile(p: PermissionProfileView): Json {
  return {
    permissionProfileId: String(p.id),
    permissionProfileName: p.name,
    modifiedDateTime: iso(p.updated_at),
    userCount: String(p.user_count),
    settings: settingsOf(p.permissions),
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
    const { set } = flagsOf(body);
    const created = await profiles.create(translatingCtx(request, profile), accountId, {
      name,
      permissions: [...set],
    });
    return reply.code(201).send(profile(created));
  });

  fastify.get(`${path}/:permissionProfileId`, { config: READ }, async (request) => {
    const { ctx, accountId } = await accountOf(request);
    const id = profileIdOf((request.params as Json).permissionProfileId);
    return profile(await profiles.get(ctx, accountId, id));
  });

  fastify.put(`${path}/:permissionProfileId`, { config: WRITE }, async (request) => {
    const { ctx, accountId } = await accountOf(request);
    const id = profileIdOf((request.params as Json).permissionProfileId);
    const body = bodyOf(request);
    const { set, cleared } = flagsOf(body);
    const before = await profiles.get(ctx, accountId, id);
    const permissions =
      set.size + cleared.size === 0
        ? undefined
        : [...new Set([...before.permissions.filter((p) => !cleared.has(p)), ...set])];
    const updated = await profiles.update(translatingCtx(request, profile), accountId, id, {
      name: optString(body, 'permissionProfileName', 100),
      permissions,
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
    // An empty 200: no value for the transaction to store, so the response sent is.
    await profiles.delete(sentResponseCtx(request), accountId, id, moveTo);
    return reply.code(200).send();
  });
}
