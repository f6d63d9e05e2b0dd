import assert from 'node:assert/strict';
import { test } from 'node:test';
import { mayActOnRole, requireMayGrantRole, requireMayManageRole } from '../src/core/roles.ts';

// The one role rule every service asks (users, invites, password resets, import rows).
test('a role grants and manages roles at or below its own, nothing above', () => {
  const roles = ['member', 'admin', 'owner'] as const;
  const expected: Record<string, readonly string[]> = {
    member: ['member'],
    admin: ['member', 'admin'],
    owner: ['member', 'admin', 'owner'],
  };
  for (const actor of roles) {
    for (const role of roles) {
      assert.equal(mayActOnRole(actor, role), expected[actor]!.includes(role), `${actor} -> ${role}`);
    }
  }
  assert.throws(() => requireMayGrantRole('admin', 'owner'), { code: 'permission_denied' });
  assert.throws(() => requireMayManageRole('member', { id: 'u1', role: 'admin' }), {
    code: 'permission_denied',
    message: 'a member cannot change the admin u1',
  });
  requireMayManageRole('admin', { id: 'u2', role: 'admin' });
});
