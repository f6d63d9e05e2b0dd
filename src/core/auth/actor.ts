// The principal an audit event is attributed to when a person acts without an API key: signing up, logging
// in, completing a reset, accepting an invite. It carries no permissions: it is never used to authorise.
import type { OrgRole } from '../../db/schema.ts';
import type { Principal } from '../principal.ts';

export function personActor(
  user: { id: string; email: string; organization_id: string; role: OrgRole },
  environment: 'test' | 'live',
  accountId: string | null = null,
): Principal {
  return {
    kind: 'user',
    id: user.id,
    label: user.email,
    organizationId: user.organization_id,
    accountId,
    userId: user.id,
    role: user.role,
    environment,
    permissions: new Set(),
  };
}
