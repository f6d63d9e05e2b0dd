// Who pays for an organization's sends. Until platform mode (connected accounts, billing modes) lands, every
// organization pays for itself; then this asks src/core/platform/billing.ts.
import type { Db } from '../../db/connection.ts';

export async function payerFor(_trx: Db, organizationId: string): Promise<string> {
  return organizationId;
}
