// Matching a person's HR attributes against an account's mapping rules. This module is the stable entry point
// for every writer that gives people memberships without naming a profile: POST /api/users and the CSV import
// engine call resolveMapping (or mappingMatcher, for many people in one account). No caching: each call reads
// the rules as they are in the caller's transaction.
//
// Patterns are globs, never user-supplied regular expressions: `*` is any run of characters (also none), `?`
// is exactly one; everything else is literal. They are matched by the iterative wildcard algorithm below,
// which does no backtracking beyond the last `*` and so runs in O(pattern × value) at worst (both are at most
// 200 characters): no pattern can make it slow (no ReDoS).
import { sql } from 'kysely';
import type { Db } from '../../db/connection.ts';
import type { MappingAttribute, MappingConditions } from '../../db/schema.ts';

export const MAPPING_ATTRIBUTES: readonly MappingAttribute[] = ['job_title', 'department', 'company'];

/** What the rules look at. Missing, null and blank attributes satisfy no condition. */
export interface PersonAttributes {
  job_title?: string | null;
  department?: string | null;
  company?: string | null;
}

/** The outcome of a matching rule: what a new member of the account gets. */
export interface MappingResult {
  rule_id: string;
  permission_profile_id: number;
  group_ids: number[];
}

/** Attribute values and patterns are compared trimmed, NFC-normalised and lower-cased. */
export function fold(value: string): string {
  return value.trim().normalize('NFC').toLowerCase();
}

/** Whether `value` matches the glob `pattern` (both already folded). `*`: any run; `?`: one character. */
export function globMatch(pattern: string, value: string): boolean {
  const p = Array.from(pattern);
  const v = Array.from(value);
  let pi = 0;
  let vi = 0;
  let star = -1; // position of the last `*` seen in the pattern
  let mark = 0; // where in the value that `*` currently ends
  while (vi < v.length) {
    if (pi < p.length && p[pi] === '*') {
      star = pi++;
      mark = vi;
    } else if (pi < p.length && (p[pi] === '?' || p[pi] === v[vi])) {
      pi++;
      vi++;
    } else if (star >= 0) {
      // Let the last `*` swallow one more character and retry from just after it.
      pi = star + 1;
      vi = ++mark;
    } else {
      return false;
    }
  }
  while (pi < p.length && p[pi] === '*') pi++;
  return pi === p.length;
}

/** Whether every condition of a rule holds for the person (a rule always has at least one condition). */
export function conditionsHold(conditions: MappingConditions, person: PersonAttributes): boolean {
  let tested = 0;
  for (const attribute of MAPPING_ATTRIBUTES) {
    const condition = conditions[attribute];
    if (!condition) continue;
    tested++;
    const raw = person[attribute];
    const value = typeof raw === 'string' ? fold(raw) : '';
    if (value === '') return false;
    if ('equals' in condition) {
      if (fold(condition.equals) !== value) return false;
    } else if (!globMatch(fold(condition.matches), value)) {
      return false;
    }
  }
  return tested > 0;
}

interface LoadedRule extends MappingResult {
  conditions: MappingConditions;
}

async function enabledRules(db: Db, accountId: string): Promise<LoadedRule[]> {
  const rows = await db
    .selectFrom('mapping_rules as r')
    .select(['r.id', 'r.conditions', 'r.permission_profile_id'])
    .select(
      sql<(string | number)[]>`COALESCE((SELECT array_agg(rg.group_id ORDER BY rg.group_id)
        FROM mapping_rule_groups rg WHERE rg.rule_id = r.id), '{}')`.as('group_ids'),
    )
    .where('r.account_id', '=', accountId)
    .where('r.enabled', '=', true)
    .orderBy('r.position')
    .execute();
  return rows.map((r) => ({
    rule_id: r.id,
    conditions: r.conditions,
    permission_profile_id: Number(r.permission_profile_id),
    group_ids: r.group_ids.map(Number),
  }));
}

/**
 * Loads the account's enabled rules once and returns a function that finds, for a person, the first rule (by
 * position) whose conditions all hold, or null. For bulk work (imports) in one account and one transaction.
 */
export async function mappingMatcher(
  db: Db,
  accountId: string,
): Promise<(person: PersonAttributes) => MappingResult | null> {
  const rules = await enabledRules(db, accountId);
  return (person) => {
    const rule = rules.find((r) => conditionsHold(r.conditions, person));
    return rule
      ? {
          rule_id: rule.rule_id,
          permission_profile_id: rule.permission_profile_id,
          group_ids: [...rule.group_ids],
        }
      : null;
  };
}

/**
 * STABLE API (used by POST /api/users and the CSV import engine). The profile and groups the account's mapping
 * rules give a person with these attributes: the first enabled rule, by position, whose conditions all hold;
 * null when none does (the caller then applies its default, e.g. the account's "DS Sender" profile).
 * `accountId` must already be checked to be the caller's; the profile and groups returned belong to it.
 */
export async function resolveMapping(
  db: Db,
  accountId: string,
  person: PersonAttributes,
): Promise<MappingResult | null> {
  return (await mappingMatcher(db, accountId))(person);
}
