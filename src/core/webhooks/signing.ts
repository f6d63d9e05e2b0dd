// The three wire formats of a delivery (docs/webhooks.md, "Formats"): the body each sends and the headers that
// sign it, one signature per secret still signing (a rotation's window).
import { createHmac, randomBytes } from 'node:crypto';
import { Webhook } from 'standardwebhooks';
import type { WebhookFormat } from '../../db/schema.ts';

/**
 * A Standard Webhooks symmetric secret: 32 random bytes, base64, prefixed `whsec_` (the spec asks for 24-64
 * bytes; the `standardwebhooks` package reads this form as it is).
 */
export function newSigningSecret(): string {
  return `whsec_${randomBytes(32).toString('base64')}`;
}

export interface OutgoingEvent {
  id: string;
  type: string;
  occurred_at: Date;
  account_id: string | null;
  payload: Record<string, unknown>;
}

/** The body of an event in a format (the same bytes on every attempt but Connect's retryCount). */
export function bodyOf(
  format: WebhookFormat,
  event: OutgoingEvent,
  endpointId: string,
  attempt: number,
): string {
  const occurred = event.occurred_at.toISOString();
  if (format === 'connect') {
    // DocuSign Connect's JSON event shape (SIM "JSON" format): the event name, the API version, the retry count
    // and the configuration it came through, then the data.
    return JSON.stringify({
      event: event.type,
      apiVersion: 'v2.1',
      uri: '',
      retryCount: attempt - 1,
      configurationId: endpointId,
      generatedDateTime: occurred,
      data: { accountId: event.account_id, eventId: event.id, ...event.payload },
    });
  }
  if (format === 'atlas') {
    return JSON.stringify({ id: event.id, event: event.type, created_at: occurred, data: event.payload });
  }
  // Standard Webhooks' recommended envelope: type, timestamp, data.
  return JSON.stringify({ type: event.type, timestamp: occurred, data: event.payload });
}

/**
 * The signing headers. Standard Webhooks: webhook-id (the event's id, the receiver's idempotency key),
 * webhook-timestamp (this attempt's, in seconds) and webhook-signature (`v1,<base64>` per secret, signed
 * over `id.timestamp.body`), computed by the official `standardwebhooks` package. Atlas: X-Atlas-Signature,
 * `sha256=<hex HMAC-SHA256 of the raw body>`, with the newest secret (Atlas has one header). Connect:
 * X-DocuSign-Signature-1..N, base64 HMAC-SHA256 of the raw body, one per secret. The Atlas and Connect HMAC key
 * is the secret as shown (`whsec_…`, its UTF-8 bytes), which is what a receiver configured with it holds.
 * Every format also carries webhook-id and webhook-timestamp, so any receiver can deduplicate.
 */
export function signingHeaders(
  format: WebhookFormat,
  secrets: readonly string[],
  eventId: string,
  at: Date,
  body: string,
): Record<string, string> {
  const seconds = Math.floor(at.getTime() / 1000);
  const headers: Record<string, string> = {
    'webhook-id': eventId,
    'webhook-timestamp': String(seconds),
  };
  if (format === 'standard') {
    headers['webhook-signature'] = secrets
      .map((s) => new Webhook(s).sign(eventId, new Date(seconds * 1000), body))
      .join(' ');
  } else if (format === 'atlas') {
    const newest = secrets[secrets.length - 1];
    if (newest !== undefined) {
      headers['x-atlas-signature'] = `sha256=${createHmac('sha256', newest).update(body).digest('hex')}`;
    }
  } else {
    secrets.forEach((s, i) => {
      headers[`x-docusign-signature-${i + 1}`] = createHmac('sha256', s).update(body).digest('base64');
    });
  }
  return headers;
}
