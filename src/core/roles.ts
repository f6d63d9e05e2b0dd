// The one role rule: a principal grants, and acts on, organization roles at or below its own. An owner makes
// owners and changes anyone; an admin grants admin or member and changes admins and members; a member grants
// member and changes only members. The users service (role changes, deactivation, memberships), invites,
// admin-triggered password resets and import rows all ask here.
import type { OrgRole } from '../db/schema.ts';
import { AppError } from './errors.ts';
import { roleAtLeast } from './principal.ts';

/** Whether an actor with role `actor` may grant `role`, or change a user who holds it. */
export function mayActOnRole(actor: OrgRole, role: OrgRole): boolean {
  return roleAtLeast(actor, role);
}

/** Refuses (403) granting a role above the actor's: `what` says how it is granted ("grant", "invite with"). */
export function requireMayGrantRole(actor: OrgRole, role: OrgRole, what = 'grant'): void {
  if (!mayActOnRole(actor, role)) {
    throw new AppError('permission_denied', `a ${actor} cannot ${what} the organization role "${role}"`, [
      { field: 'role', message: 'above your own role' },
    ]);
  }
}

/**
 * Refuses (403) changing a user whose role is above the actor's: `what` names the change ("change",
 * "reset the password of").
 */
export function requireMayManageRole(
  actor: OrgRole,
  target: { id: string; role: OrgRole },
  what = 'change',
): void {
  if (!mayActOnRole(actor, target.role)) {
    throw new AppError('permission_denied', `a ${actor} cannot ${what} the ${target.role} ${target.id}`);
  }
}
