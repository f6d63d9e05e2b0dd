import type { Db } from '../../db/connection.ts';
import type { Organization } from '../../db/schema.ts';
import { type Ctx, mutate } from '../context.ts';
import { notFound } from '../errors.ts';

export interface OrganizationPatch {
  name?: string;
}

export class OrganizationsService {
  constructor(private readonly db: Db) {}

  /** A foreign organization's id answers exactly as a missing one. */
  async get(ctx: Ctx, id: string): Promise<Organization> {
    if (id !== ctx.principal.organizationId) throw notFound('organization', id);
    const org = await this.db.selectFrom('organizations').selectAll().where('id', '=', id).executeTakeFirst();
    if (!org) throw notFound('organization', id);
    return org;
  }

  async update(ctx: Ctx, id: string, patch: OrganizationPatch): Promise<Organization> {
    const before = await this.get(ctx, id);
    return mutate(this.db, ctx, async (trx, audit) => {
      const after = await trx
        .updateTable('organizations')
        .set({ ...patch, updated_at: new Date() })
        .where('id', '=', id)
        .returningAll()
        .executeTakeFirstOrThrow();
      audit.record({
        action: 'organization.updated',
        targetType: 'organization',
        targetId: id,
        before,
        after,
      });
      return after;
    });
  }
}
