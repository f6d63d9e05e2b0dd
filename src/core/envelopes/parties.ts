// An envelope's parties in signing order, read by the envelope service (views, send) and by signing (turns).
import type { Db } from '../../db/connection.ts';
import type { EnvelopePartyRow } from '../../db/schema.ts';

export function envelopeParties(db: Db, envelopeId: string): Promise<EnvelopePartyRow[]> {
  return db
    .selectFrom('envelope_parties')
    .selectAll()
    .where('envelope_id', '=', envelopeId)
    .orderBy('signing_order')
    .orderBy('id')
    .execute();
}
