// HR mapping rules belong to an account: an ordered list (positions 1..n, no gaps) of rules from a person's
// job title, department and company to a permission profile of the account and groups of the account. The
// first enabled rule whose conditions all hold decides what a new member who is given no profile gets (see
// match.ts, which holds the matcher other modules call). Position changes (create, delete, reorder) are
// serialised per account by a transaction-level advisory lock.
import { sql } from 'kysely';
import type { Db } from '../../db/connection.ts';
import type { MappingAttribute, MappingConditions, MappingRule } from '../../db/schema.ts';
import { type Ctx, mutate } from '../context.ts';
import { AppError, invalidField, notFound } from '../errors.ts';
import { newId } from '../ids.ts';
import { requireAccountAccess } from '../principal.ts';
import { accountInPath, defaultProfileId, groupsInAccount, profileInAccount } from '../refs.ts';
import { MAPPING_ATTRIBUTES, type PersonAttributes, resolveMapping } from './match.ts';

export {
  conditionsHold,
  globMatch,
  type MappingResult,
  mappingMatcher,
  type PersonAttributes,
  resolveMapping,
} from './match.ts';

/** An account holds at most this many rules (each new member is checked against all of them). */
export const MAX_RULES_PER_ACCOUNT = 500;

export interface MappingRuleView extends Omit<MappingRule, 'organization_id'> {
  group_ids: number[];
}

/** Conditions as a request states them: each must have exactly one of equals / matches (checked here too). */
export type ConditionsInput = Partial<Record<MappingAttribute, { equals?: string; matches?: string }>>;

export interface MappingRuleInput {
  name: string;
  conditions: ConditionsInput;
  permission_profile_id: number;
  group_ids?: number[];
  enabled?: boolean;
}

export type MappingRulePatch = Partial<MappingRuleInput>;

export interface MappingTestInput extends PersonAttributes {
  account_id: string;
}

export interface MappingTestResult {
  matched: boolean;
  rule: MappingRuleView | null;
  permission_profile: { id: number; name: string } | null;
  group_ids: number[];
  source: 'rule' | 'default';
}

// Should a concurrent delete of the referenced profile or group win the race, the foreign keys answer.
const HINTS = {
  mapping_rules_profile_fkey: invalidField(
    'permission_profile_id',
    'the permission profile no longer exists',
    'invalid_reference',
  ),
  mapping_rule_groups_group_id_fkey: invalidField(
    'group_ids',
    'a group no longer exists',
    'invalid_reference',
  ),
};

function cleanName(name: string): string {
  const trimmed = name.trim();
  if (trimmed.length === 0) throw invalidField('name', 'must not be blank');
  return trimmed;
}

/** Trims each value; a blank value, an empty condition or no condition at all is refused, naming the field. */
function cleanConditions(conditions: ConditionsInput): MappingConditions {
  const out: MappingConditions = {};
  for (const [attribute, condition] of Object.entries(conditions) as [MappingAttribute, object][]) {
    if (!MAPPING_ATTRIBUTES.includes(attribute)) {
      throw invalidField(
        `conditions.${attribute}`,
        `unknown attribute; the attributes are ${MAPPING_ATTRIBUTES.join(', ')}`,
      );
    }
    const kinds = Object.keys(condition ?? {});
    if (kinds.length !== 1 || !['equals', 'matches'].includes(kinds[0]!)) {
      throw invalidField(`conditions.${attribute}`, 'must be {"equals": "…"} or {"matches": "glob"}');
    }
    const kind = kinds[0] as 'equals' | 'matches';
    const value = (condition as Record<string, unknown>)[kind];
    if (typeof value !== 'string' || value.trim() === '') {
      throw invalidField(`conditions.${attribute}.${kind}`, 'must not be blank');
    }
    out[attribute] = kind === 'equals' ? { equals: value.trim() } : { matches: value.trim() };
  }
  if (Object.keys(out).length === 0) {
    throw invalidField('conditions', `needs at least one of ${MAPPING_ATTRIBUTES.join(', ')}`);
  }
  return out;
}

export class MappingRulesService {
  constructor(private readonly db: Db) {}

  /** The account's rules in order (all of them: an account has at most MAX_RULES_PER_ACCOUNT). */
  async list(ctx: Ctx, accountId: string): Promise<{ data: MappingRuleView[] }> {
    await accountInPath(ctx, this.db, accountId);
    return { data: await this.views(this.db, ctx, accountId).orderBy('r.position').execute().then(toViews) };
  }

  async get(ctx: Ctx, accountId: string, id: string, db: Db = this.db): Promise<MappingRuleView> {
    await accountInPath(ctx, db, accountId);
    const row = await this.views(db, ctx, accountId).where('r.id', '=', id).executeTakeFirst();
    if (!row) throw notFound('mapping rule', id);
    return toView(row);
  }

  /** Adds a rule at the end of the account's list. */
  async create(ctx: Ctx, accountId: string, input: MappingRuleInput): Promise<MappingRuleView> {
    const name = cleanName(input.name);
    const conditions = cleanConditions(input.conditions);
    return mutate(
      this.db,
      ctx,
      async (trx, audit) => {
        await accountInPath(ctx, trx, accountId);
        const profile = await profileInAccount(trx, accountId, input.permission_profile_id);
        const groupIds = await groupsInAccount(trx, accountId, input.group_ids ?? []);
        await lockRules(trx, accountId);
        const { count, last } = await trx
          .selectFrom('mapping_rules')
          .select([
            sql<number>`count(*)::integer`.as('count'),
            sql<number>`COALESCE(max(position), 0)::integer`.as('last'),
          ])
          .where('account_id', '=', accountId)
          .executeTakeFirstOrThrow();
        if (count >= MAX_RULES_PER_ACCOUNT) {
          throw new AppError(
            'conflict',
            `account ${accountId} already has ${count} mapping rules, the most it can have; delete one first`,
          );
        }
        const id = newId();
        await trx
          .insertInto('mapping_rules')
          .values({
            id,
            organization_id: ctx.principal.organizationId,
            account_id: accountId,
            position: last + 1,
            name,
            conditions,
            permission_profile_id: profile.id,
            enabled: input.enabled ?? true,
          })
          .execute();
        await setGroups(trx, accountId, id, groupIds);
        const after = await this.get(ctx, accountId, id, trx);
        audit.record({
          action: 'mapping_rule.created',
          targetType: 'mapping_rule',
          targetId: id,
          accountId,
          after: { ...after },
        });
        return after;
      },
      HINTS,
    );
  }

  /** Changes a rule in place (its position is changed by reorder). `conditions` replaces them whole. */
  async update(ctx: Ctx, accountId: string, id: string, patch: MappingRulePatch): Promise<MappingRuleView> {
    const set: Partial<Pick<MappingRule, 'name' | 'conditions' | 'enabled' | 'permission_profile_id'>> = {};
    if (patch.name !== undefined) set.name = cleanName(patch.name);
    if (patch.conditions !== undefined) set.conditions = cleanConditions(patch.conditions);
    if (patch.enabled !== undefined) set.enabled = patch.enabled;
    return mutate(
      this.db,
      ctx,
      async (trx, audit) => {
        const before = await this.load(ctx, trx, accountId, id);
        if (patch.permission_profile_id !== undefined) {
          set.permission_profile_id = (
            await profileInAccount(trx, accountId, patch.permission_profile_id)
          ).id;
        }
        const groupIds =
          patch.group_ids === undefined ? undefined : await groupsInAccount(trx, accountId, patch.group_ids);
        if (Object.keys(set).length === 0 && groupIds === undefined) return before;
        await trx
          .updateTable('mapping_rules')
          .set({ ...set, updated_at: new Date() })
          .where('id', '=', id)
          .execute();
        if (groupIds !== undefined) await setGroups(trx, accountId, id, groupIds);
        const after = await this.get(ctx, accountId, id, trx);
        audit.record({
          action: 'mapping_rule.updated',
          targetType: 'mapping_rule',
          targetId: id,
          accountId,
          before: { ...before },
          after: { ...after },
        });
        return after;
      },
      HINTS,
    );
  }

  /** Deletes a rule; the rules after it move up one place. */
  async delete(ctx: Ctx, accountId: string, id: string): Promise<void> {
    await mutate(this.db, ctx, async (trx, audit) => {
      await accountInPath(ctx, trx, accountId);
      await lockRules(trx, accountId);
      const before = await this.load(ctx, trx, accountId, id);
      await trx.deleteFrom('mapping_rules').where('id', '=', id).execute();
      await trx
        .updateTable('mapping_rules')
        .set({ position: sql`position - 1` })
        .where('account_id', '=', accountId)
        .where('position', '>', before.position)
        .execute();
      audit.record({
        action: 'mapping_rule.deleted',
        targetType: 'mapping_rule',
        targetId: id,
        accountId,
        before: { ...before },
        after: null,
      });
    });
  }

  /** Puts the account's rules in the order given; `ruleIds` must list every rule of the account exactly once. */
  async reorder(ctx: Ctx, accountId: string, ruleIds: string[]): Promise<{ data: MappingRuleView[] }> {
    const wanted = ruleIds.map((r) => r.toLowerCase());
    return mutate(this.db, ctx, async (trx, audit) => {
      await accountInPath(ctx, trx, accountId);
      await lockRules(trx, accountId);
      const current = await trx
        .selectFrom('mapping_rules')
        .select(['id', 'position'])
        .where('account_id', '=', accountId)
        .orderBy('position')
        .execute();
      const have = new Set(current.map((r) => r.id));
      const unknown = [...new Set(wanted.filter((r) => !have.has(r)))];
      if (unknown.length > 0) {
        throw invalidField(
          'rule_ids',
          `no mapping rule ${unknown.join(', ')} in account ${accountId}`,
          'invalid_reference',
        );
      }
      const dupes = [...new Set(wanted.filter((r, i) => wanted.indexOf(r) !== i))];
      if (dupes.length > 0) throw invalidField('rule_ids', `lists ${dupes.join(', ')} more than once`);
      const missing = current.filter((r) => !wanted.includes(r.id)).map((r) => r.id);
      if (missing.length > 0) {
        throw invalidField(
          'rule_ids',
          `must list every rule of the account exactly once; missing ${missing.join(', ')}`,
        );
      }
      const before = current.map((r) => r.id);
      const changed = wanted.some((r, i) => before[i] !== r);
      if (changed) {
        // The unique (account_id, position) constraint is deferred to commit, so the permutation is one update.
        await sql`UPDATE mapping_rules r SET position = o.position, updated_at = now()
          FROM unnest(${wanted}::uuid[]) WITH ORDINALITY AS o(id, position)
          WHERE r.id = o.id AND r.account_id = ${accountId} AND r.position <> o.position`.execute(trx);
        audit.record({
          action: 'mapping_rule.reordered',
          targetType: 'account',
          targetId: accountId,
          accountId,
          before: { rule_ids: before },
          after: { rule_ids: wanted },
        });
      }
      return { data: toViews(await this.views(trx, ctx, accountId).orderBy('r.position').execute()) };
    });
  }

  /** What a person with these attributes would get as a new member of the account, and why. */
  async test(ctx: Ctx, input: MappingTestInput): Promise<MappingTestResult> {
    const accountId = input.account_id;
    const account = await this.db
      .selectFrom('accounts')
      .select('id')
      .where('id', '=', accountId)
      .where('organization_id', '=', ctx.principal.organizationId)
      .executeTakeFirst();
    if (!account) {
      throw invalidField('account_id', `no account ${accountId} in this organization`, 'invalid_reference');
    }
    requireAccountAccess(ctx.principal, accountId);
    const match = await resolveMapping(this.db, accountId, input);
    const profileId = match ? match.permission_profile_id : await defaultProfileId(this.db, accountId);
    const profile =
      profileId === null
        ? null
        : ((await this.db
            .selectFrom('permission_profiles')
            .select(['id', 'name'])
            .where('id', '=', profileId)
            .where('account_id', '=', accountId)
            .executeTakeFirst()) ?? null);
    return {
      matched: match !== null,
      rule: match ? await this.get(ctx, accountId, match.rule_id) : null,
      permission_profile: profile ? { id: Number(profile.id), name: profile.name } : null,
      group_ids: match?.group_ids ?? [],
      source: match ? 'rule' : 'default',
    };
  }

  // --- internals -------------------------------------------------------------------------------------

  private views(db: Db, ctx: Ctx, accountId: string) {
    return db
      .selectFrom('mapping_rules as r')
      .select([
        'r.id',
        'r.account_id',
        'r.position',
        'r.name',
        'r.conditions',
        'r.permission_profile_id',
        'r.enabled',
        'r.created_at',
        'r.updated_at',
      ])
      .select(
        sql<(string | number)[]>`COALESCE((SELECT array_agg(rg.group_id ORDER BY rg.group_id)
          FROM mapping_rule_groups rg WHERE rg.rule_id = r.id), '{}')`.as('group_ids'),
      )
      .where('r.organization_id', '=', ctx.principal.organizationId)
      .where('r.account_id', '=', accountId);
  }

  /** The rule, locked for the rest of the transaction; a rule of another account is the same 404. */
  private async load(ctx: Ctx, db: Db, accountId: string, id: string): Promise<MappingRuleView> {
    await accountInPath(ctx, db, accountId);
    const locked = await db
      .selectFrom('mapping_rules')
      .select('id')
      .where('organization_id', '=', ctx.principal.organizationId)
      .where('account_id', '=', accountId)
      .where('id', '=', id)
      .forUpdate()
      .executeTakeFirst();
    if (!locked) throw notFound('mapping rule', id);
    return this.get(ctx, accountId, id, db);
  }
}

type ViewRow = Omit<MappingRuleView, 'group_ids'> & { group_ids: (string | number)[] };

function toView(row: ViewRow): MappingRuleView {
  return {
    ...row,
    permission_profile_id: Number(row.permission_profile_id),
    group_ids: row.group_ids.map(Number),
  };
}

function toViews(rows: ViewRow[]): MappingRuleView[] {
  return rows.map(toView);
}

/** Serialises position changes within one account until the transaction ends. */
async function lockRules(trx: Db, accountId: string): Promise<void> {
  await sql`SELECT pg_advisory_xact_lock(hashtextextended(${`mapping_rules:${accountId}`}, 0))`.execute(trx);
}

async function setGroups(trx: Db, accountId: string, ruleId: string, groupIds: number[]): Promise<void> {
  await trx.deleteFrom('mapping_rule_groups').where('rule_id', '=', ruleId).execute();
  if (groupIds.length > 0) {
    await trx
      .insertInto('mapping_rule_groups')
      .values(groupIds.map((group_id) => ({ account_id: accountId, rule_id: ruleId, group_id })))
      .execute();
  }
}
