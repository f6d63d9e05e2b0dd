// Who pays for a connected account's sends, and whether it may send at all (docs/platform.md, "Billing modes"
// and "Suspension"). Atlas's billing-modes page: `platform_pays` (the default) draws on the platform
// organization's credits, `child_pays` on the connected account's own pool; an organization that is not a
// connected account always pays for itself. A suspended connected account keeps its drafts but every write
// that costs or sends is refused with 403 (Atlas: "PATCH {status: suspended} blocks sends with 403").
//
// Both functions read inside the caller's transaction; `lock: true` takes a share lock on the connected
// account's row, so a PATCH that suspends it or changes its billing mode waits for a send in flight (and a
// send that starts after the PATCH sees it), never a send debited to the pool the PATCH just moved away from.
import type { Db } from '../../db/connection.ts';
import { AppError, notFound } from '../errors.ts';

export interface Payer {
  /** The organization whose credit pool a send debits. */
  payerOrganizationId: string;
  /** True when the organization is a suspended connected account: writes that cost or send are refused. */
  suspended: boolean;
}

export async function payerOf(
  trx: Db,
  organizationId: string,
  options: { lock?: boolean } = {},
): Promise<Payer> {
  let query = trx
    .selectFrom('organizations')
    .select(['id', 'platform_organization_id', 'billing_mode', 'connected_status'])
    .where('id', '=', organizationId);
  if (options.lock) query = query.forShare();
  const org = await query.executeTakeFirst();
  if (!org) throw notFound('organization', organizationId);
  const payerOrganizationId =
    org.platform_organization_id && org.billing_mode === 'platform_pays'
      ? org.platform_organization_id
      : org.id;
  return { payerOrganizationId, suspended: org.connected_status === 'suspended' };
}

/** The 403 a suspended connected account gets for a write that costs or sends (`what`: "send an envelope"). */
export function connectedSuspended(organizationId: string, what: string): AppError {
  return new AppError(
    'connected_account_suspended',
    `connected account ${organizationId} is suspended, so it cannot ${what}; drafts and reads still work. ` +
      'Its platform reactivates it with PATCH /api/platform/connected-accounts/{id} {"status": "active"}',
    [{ message: 'the connected account is suspended', organization_id: organizationId }],
  );
}

/**
 * Throws 403 connected_account_suspended when `organizationId` is a suspended connected account. Call it in
 * the transaction of every write that costs or sends (an envelope's send), before debiting; returns the payer
 * so the caller reads the row once.
 */
export async function assertConnectedActive(
  trx: Db,
  organizationId: string,
  what = 'send or spend credits',
  options: { lock?: boolean } = { lock: true },
): Promise<Payer> {
  const payer = await payerOf(trx, organizationId, options);
  if (payer.suspended) throw connectedSuspended(organizationId, what);
  return payer;
}
