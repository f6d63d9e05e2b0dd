// eSignature's view of Signet's envelopes, read-only (issue 12 part 7): EnvelopesApi.listStatusChanges
// (GET /v2.1/accounts/{accountId}/envelopes?from_date=&status=) and EnvelopesApi.getEnvelope
// (GET …/envelopes/{envelopeId}, with ?include=recipients), in eSignature's Envelope shape, so a migration script
// can compare one system with the other. Envelopes are made and acted on through /api (docs/envelopes.md).
//
// Status: eSignature's envelope statuses are created, sent, delivered, signed, completed, declined, voided.
// Signet's draft is eSignature's created; an envelope Signet expired is voided there (eSignature voids an
// envelope that expires, with the reason "Envelope has expired"); sent, completed, declined and voided are
// the same words.
import type { FastifyInstance } from 'fastify';
import type { EnvelopeView, PartyView } from '../../core/envelopes/service.ts';
import { invalidField } from '../../core/errors.ts';
import type { EnvelopeStatus } from '../../core/types.ts';
import { accountOf, compact, guid, iso, type Json, pagingOf, windowOf } from './shared.ts';

const READ = { docusignScope: 'signature', permission: 'envelopes:read' } as const;

const STATUS: Record<EnvelopeStatus, string> = {
  draft: 'created',
  sent: 'sent',
  completed: 'completed',
  declined: 'declined',
  voided: 'voided',
  expired: 'voided',
};

/** eSignature's status filter words → Signet's statuses (delivered and signed are still sent in Signet). */
const FILTER: Record<string, EnvelopeStatus[]> = {
  created: ['draft'],
  sent: ['sent'],
  delivered: ['sent'],
  signed: ['sent'],
  completed: ['completed'],
  declined: ['declined'],
  voided: ['voided', 'expired'],
};

const RECIPIENT_STATUS: Record<PartyView['status'], string> = {
  pending: 'sent',
  waiting: 'created',
  signed: 'completed',
  declined: 'declined',
};

function recipients(e: EnvelopeView): Json {
  const of = (role: PartyView['role']) =>
    e.parties
      .filter((p) => p.role === role)
      .map((p, i) =>
        compact({
          recipientId: String(i + 1),
          recipientIdGuid: p.id,
          recipientType: role === 'signer' ? 'signer' : 'carboncopy',
          email: p.email,
          name: p.name,
          routingOrder: String(p.order),
          status: e.status === 'draft' ? 'created' : RECIPIENT_STATUS[p.status],
          deliveredDateTime: p.viewed_at ? iso(p.viewed_at) : undefined,
          signedDateTime: p.signed_at ? iso(p.signed_at) : undefined,
          declinedDateTime: p.declined_at ? iso(p.declined_at) : undefined,
        }),
      );
  return {
    signers: of('signer'),
    carbonCopies: of('cc'),
    recipientCount: String(e.parties.length),
  };
}

function envelope(accountId: string, e: EnvelopeView, withRecipients: boolean): Json {
  const uri = `/envelopes/${e.id}`;
  const statusAt =
    e.voided_at ?? e.expired_at ?? e.declined_at ?? e.completed_at ?? e.sent_at ?? e.created_at;
  return compact({
    envelopeId: e.id,
    status: STATUS[e.status],
    emailSubject: e.title,
    emailBlurb: e.message || undefined,
    envelopeUri: uri,
    documentsUri: `${uri}/documents`,
    recipientsUri: `${uri}/recipients`,
    createdDateTime: iso(e.created_at),
    lastModifiedDateTime: iso(e.updated_at),
    statusChangedDateTime: iso(statusAt),
    sentDateTime: e.sent_at ? iso(e.sent_at) : undefined,
    completedDateTime: e.completed_at ? iso(e.completed_at) : undefined,
    declinedDateTime: e.declined_at ? iso(e.declined_at) : undefined,
    voidedDateTime: e.voided_at ? iso(e.voided_at) : e.expired_at ? iso(e.expired_at) : undefined,
    voidedReason: e.status === 'expired' ? 'Envelope has expired' : (e.void_reason ?? undefined),
    expireDateTime: e.expires_at ? iso(e.expires_at) : undefined,
    expireEnabled: e.expires_at ? 'true' : 'false',
    // Signet's own fields, under eSignature's custom fields: the caller's external_id.
    customFields: e.external_id
      ? { textCustomFields: [{ name: 'external_id', value: e.external_id, show: 'false' }] }
      : undefined,
    sender: { userName: e.created_by.label ?? '', userId: e.created_by.id ?? '', accountId },
    ...(withRecipients ? { recipients: recipients(e) } : {}),
  });
}

function dateOf(q: Json, field: string): Date | undefined {
  const v = q[field];
  if (v === undefined || v === '') return undefined;
  const d = typeof v === 'string' ? new Date(v) : new Date(Number.NaN);
  if (Number.isNaN(d.getTime())) throw invalidField(field, 'must be a date (ISO 8601)');
  return d;
}

export async function envelopeRoutes(fastify: FastifyInstance): Promise<void> {
  const envelopes = fastify.services.envelopes;

  fastify.get('/v2.1/accounts/:accountId/envelopes', { config: READ }, async (request) => {
    const { ctx, accountId } = await accountOf(request);
    const q = request.query as Json;
    const from = dateOf(q, 'from_date');
    // eSignature refuses a status-change list with no starting point (from_date, or ids Signet does not take).
    if (!from) throw invalidField('from_date', 'is required: the envelopes whose status changed since then');
    const to = dateOf(q, 'to_date');
    let statuses: EnvelopeStatus[] | undefined;
    if (typeof q.status === 'string' && q.status !== '' && q.status.toLowerCase() !== 'any') {
      statuses = q.status.split(',').flatMap((word) => {
        const mapped = FILTER[word.trim().toLowerCase()];
        if (!mapped)
          throw invalidField('status', `unknown status "${word}"; use ${Object.keys(FILTER).join(', ')}`);
        return mapped;
      });
    }
    const w = windowOf(q, 1000);
    const page = await envelopes.listAt(ctx, accountId, { from, to, statuses, ...w });
    return {
      envelopes: page.data.map((e) => envelope(accountId, e, false)),
      ...pagingOf(request, w, page.data.length, page.total),
    };
  });

  fastify.get('/v2.1/accounts/:accountId/envelopes/:envelopeId', { config: READ }, async (request) => {
    const { ctx, accountId } = await accountOf(request);
    const { envelopeId } = request.params as { envelopeId: string };
    const e = await envelopes.getInAccount(ctx, accountId, guid(envelopeId, 'envelope'));
    const include =
      typeof (request.query as Json).include === 'string' ? String((request.query as Json).include) : '';
    return envelope(accountId, e, include.split(',').includes('recipients'));
  });
}
