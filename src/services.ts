// The per-process dependency container: every service, built once over one database handle.
import type { Config } from './config.ts';
import { AccountsService } from './core/accounts/service.ts';
import { ApiKeysService } from './core/api-keys/service.ts';
import { AuditService } from './core/audit/service.ts';
import { BrandsService } from './core/brands/service.ts';
import { GroupsService } from './core/groups/service.ts';
import { OrganizationsService } from './core/organizations/service.ts';
import { PermissionProfilesService } from './core/permission-profiles/service.ts';
import { SettingsService } from './core/settings/service.ts';
import { UsersService } from './core/users/service.ts';
import type { Db } from './db/connection.ts';

export function createServices(db: Db, config: Config) {
  return {
    db,
    organizations: new OrganizationsService(db),
    accounts: new AccountsService(db),
    users: new UsersService(db),
    apiKeys: new ApiKeysService(db, config.environment, config.keyCacheTtlMs),
    audit: new AuditService(db),
    permissionProfiles: new PermissionProfilesService(db),
    groups: new GroupsService(db),
    brands: new BrandsService(db),
    settings: new SettingsService(db),
  };
}

export type Services = ReturnType<typeof createServices>;
