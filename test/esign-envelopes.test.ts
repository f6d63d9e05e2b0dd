// eSignature's read-only view of Signet's envelopes through the official docusign-esign SDK:
// EnvelopesApi.listStatusChanges (from_date, status, paging) and getEnvelope (include=recipients), the same
// envelopes /api made and acted on; another account's envelope is ENVELOPE_DOES_NOT_EXIST.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { api, esign, esignClient, liveTenant, sdkError, startApp } from './docusign-helper.ts';
import { grantCredits, makePdf, parties } from './envelope-helper.ts';

type Sdk = any;

test('EnvelopesApi lists status changes and gets an envelope in eSignature’s shape', async (t) => {
  const live = await startApp(t);
  const tenant = await liveTenant(live);
  const document = (await makePdf(1)).toString('base64');
  const since = new Date(Date.now() - 1000).toISOString();
  const make = async (title: string) =>
    (
      await api(live, tenant.key, 'POST', '/api/envelope', {
        title,
        document,
        parties: [...parties(1), { email: 'cc@example.test', name: 'Copy', role: 'cc', order: 9 }],
        metadata: { external_id: `ext-${title}` },
      })
    ).body;
  const draft = await make('Draft one');
  const sent = await make('Sent one');
  const voided = await make('Voided one');
  await grantCredits(live.services, tenant.organizationId, 2);
  assert.equal((await api(live, tenant.key, 'POST', `/api/envelope/${sent.id}/send`)).status, 200);
  assert.equal((await api(live, tenant.key, 'POST', `/api/envelope/${voided.id}/send`)).status, 200);
  assert.equal(
    (await api(live, tenant.key, 'POST', `/api/envelope/${voided.id}/void`, { reason: 'typo' })).status,
    200,
  );

  const envelopes: Sdk = new esign.EnvelopesApi(esignClient(live, tenant.key));
  const all = await envelopes.listStatusChanges(tenant.accountId, { fromDate: since });
  assert.equal(all.totalSetSize, '3');
  // Oldest change first: the draft, then the sent one, then the one voided last.
  assert.deepEqual(
    all.envelopes.map((e: Sdk) => [e.envelopeId, e.status]),
    [
      [draft.id, 'created'],
      [sent.id, 'sent'],
      [voided.id, 'voided'],
    ],
  );
  const v = all.envelopes[2];
  assert.equal(v.voidedReason, 'typo');
  assert.equal(v.emailSubject, 'Voided one');
  assert.ok(v.voidedDateTime && v.sentDateTime && v.createdDateTime);
  assert.equal(v.envelopeUri, `/envelopes/${voided.id}`);
  assert.equal(v.customFields.textCustomFields[0].value, 'ext-Voided one');

  const onlySent = await envelopes.listStatusChanges(tenant.accountId, { fromDate: since, status: 'sent' });
  assert.deepEqual(
    onlySent.envelopes.map((e: Sdk) => e.envelopeId),
    [sent.id],
  );
  const paged = await envelopes.listStatusChanges(tenant.accountId, {
    fromDate: since,
    count: '2',
    startPosition: '2',
  });
  assert.equal(paged.resultSetSize, '1');
  assert.equal(paged.envelopes[0].envelopeId, voided.id);
  const later = await envelopes.listStatusChanges(tenant.accountId, {
    fromDate: new Date(Date.now() + 60_000).toISOString(),
  });
  assert.equal(later.totalSetSize, '0');

  const one = await envelopes.getEnvelope(tenant.accountId, sent.id, { include: 'recipients' });
  assert.equal(one.envelopeId, sent.id);
  assert.equal(one.status, 'sent');
  assert.equal(one.recipients.signers.length, 1);
  assert.equal(one.recipients.signers[0].email, 'signer1@example.test');
  assert.equal(one.recipients.signers[0].status, 'sent');
  assert.equal(one.recipients.signers[0].routingOrder, '1');
  assert.equal(one.recipients.carbonCopies[0].email, 'cc@example.test');
  const bare = await envelopes.getEnvelope(tenant.accountId, draft.id);
  assert.equal(bare.status, 'created');
  assert.equal(bare.recipients, undefined);

  // No from_date: eSignature's parameter error. Another organization's envelope: it does not exist.
  const noDate = await sdkError(envelopes.listStatusChanges(tenant.accountId, {}));
  assert.equal(noDate.statusCode, 400);
  assert.equal(noDate.body.errorCode, 'INVALID_REQUEST_PARAMETER');
  const other = await liveTenant(live);
  const foreign = await sdkError(
    new esign.EnvelopesApi(esignClient(live, other.key)).getEnvelope(other.accountId, sent.id),
  );
  assert.equal(foreign.body.errorCode, 'ENVELOPE_DOES_NOT_EXIST');
});
