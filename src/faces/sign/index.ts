// The signing face, at /sign (issue 12 part 6; docs/envelopes.md, "Signing"). A party's link
// /sign/{envelope_id}?t=<token> is its only credential (src/core/signing/tokens.ts): these routes take no API
// key and no session. Every answer is a page (HTML) or the document, never JSON: a person reads them.
//
//   GET  /sign/{id}?t=…            the signing page (the first look is recorded: envelope.viewed)
//   GET  /sign/{id}/document?t=…   the PDF: as sent, or signed once the envelope is completed
//   GET  /sign/{id}/logo?t=…       the account's brand logo, for the page's header
//   POST /sign/{id}                form: t, action=sign (name, consent) or action=decline (reason)
//
// Cross-site requests: the form carries the link's token in its body, and the token is a secret a forging site
// does not have, so the token is the CSRF token (as the session's derived token is for the dashboard). In
// depth, a POST whose Origin is another site's, or that the browser marks Sec-Fetch-Site: cross-site, is
// refused (403 csrf_failed). The token is never put in the form's action, so it reaches no log through a
// URL; in GET URLs the log serializer redacts `t` (faces/log-redact.ts).
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { AppError } from '../../core/errors.ts';
import { requestMeta } from '../ctx.ts';
import { toAppError } from '../http-errors.ts';
import { sendLogo } from '../logos.ts';
import { declinedPage, errorPage, type FormState, type PageOut, signingPage } from './pages.ts';

/** Headers every page carries: never cached (it holds the link), never framed, no referrer sent on. */
function sendPage(reply: FastifyReply, out: PageOut): FastifyReply {
  return reply
    .code(out.status)
    .header('content-type', 'text/html; charset=utf-8')
    .header('cache-control', 'no-store')
    .header('content-security-policy', out.csp)
    .header('x-frame-options', 'DENY')
    .header('x-content-type-options', 'nosniff')
    .header('referrer-policy', 'no-referrer')
    .send(out.html);
}

type Params = { envelopeId: string };
type Query = { t?: string };

/** The one value of a form field (the last, if sent twice), or undefined. */
function field(body: URLSearchParams, name: string): string | undefined {
  const all = body.getAll(name);
  return all.length > 0 ? all[all.length - 1] : undefined;
}

/** Refuses a POST that the browser says comes from another site. */
function sameSite(request: FastifyRequest, publicUrl: string): void {
  const site = request.headers['sec-fetch-site'];
  const origin = request.headers.origin;
  const own = new Set([new URL(publicUrl).origin, `${request.protocol}://${request.host}`]);
  if (site === 'cross-site' || (typeof origin === 'string' && origin !== 'null' && !own.has(origin))) {
    throw new AppError(
      'csrf_failed',
      'this form was sent from another site; open the signing link from your mail and sign on its page',
    );
  }
}

export async function signFace(fastify: FastifyInstance): Promise<void> {
  const { signing } = fastify.services;
  const publicUrl = fastify.config.publicUrl;
  // Envelopes past their expiry are expired every minute even if nobody opens their links (the signing
  // routes also check when a link is used): src/core/signing/service.ts.
  const sweep = setInterval(() => {
    signing
      .sweepExpired()
      .catch((err: unknown) => fastify.log.warn({ err }, 'signing: expiring overdue envelopes failed'));
  }, 60_000);
  sweep.unref();
  fastify.addHook('onClose', async () => clearInterval(sweep));

  fastify.setErrorHandler((err: unknown, request: FastifyRequest, reply: FastifyReply) => {
    const appErr = toAppError(err);
    if (appErr.status >= 500) request.log.error({ err }, 'signing request failed');
    return sendPage(reply, errorPage(appErr.status, appErr.code, appErr.message));
  });
  // The form is small: a name, a box, a reason of at most 500 characters, the token.
  fastify.addContentTypeParser(
    'application/x-www-form-urlencoded',
    { parseAs: 'string', bodyLimit: 16 * 1024 },
    (_request, body, done) => done(null, new URLSearchParams(body as string)),
  );

  const config = { public: true } as const;
  const schema = { hide: true } as const;

  fastify.get<{ Params: Params; Querystring: Query }>(
    '/sign/:envelopeId',
    { config, schema },
    async (request, reply) => {
      const { envelopeId } = request.params;
      const token = request.query.t;
      const view = await signing.page(envelopeId, token, requestMeta(request));
      return sendPage(reply, signingPage(view, token!));
    },
  );

  fastify.get<{ Params: Params; Querystring: Query }>(
    '/sign/:envelopeId/document',
    { config, schema },
    async (request, reply) => {
      const doc = await signing.document(request.params.envelopeId, request.query.t);
      const filename = doc.filename.replace(/[^\w.-]+/g, '_');
      return (
        reply
          .type('application/pdf')
          .header('content-disposition', `inline; filename="${filename}"`)
          .header('cache-control', 'no-store')
          .header('x-content-type-options', 'nosniff')
          // Shown inside the signing page's frame (same origin), nowhere else.
          .header('content-security-policy', "frame-ancestors 'self'")
          .header('x-frame-options', 'SAMEORIGIN')
          .header('referrer-policy', 'no-referrer')
          .send(doc.data)
      );
    },
  );

  fastify.get<{ Params: Params; Querystring: Query }>(
    '/sign/:envelopeId/logo',
    { config, schema },
    async (request, reply) => {
      const logo = await signing.logo(request.params.envelopeId, request.query.t);
      reply.header('cache-control', 'no-store').header('referrer-policy', 'no-referrer');
      return sendLogo(reply, logo);
    },
  );

  fastify.post<{ Params: Params; Body: URLSearchParams }>(
    '/sign/:envelopeId',
    { config, schema },
    async (request, reply) => {
      sameSite(request, publicUrl);
      const { envelopeId } = request.params;
      const body = request.body instanceof URLSearchParams ? request.body : null;
      if (!body) {
        throw new AppError(
          'unsupported_media_type',
          'send the signing form as application/x-www-form-urlencoded, as the signing page does',
        );
      }
      const token = field(body, 't');
      const meta = requestMeta(request);
      const action = field(body, 'action');
      if (action === 'decline') {
        await signing.decline(envelopeId, token, field(body, 'reason'), meta);
        return sendPage(reply, declinedPage());
      }
      if (action !== 'sign') {
        throw new AppError('validation_failed', 'action: must be "sign" or "decline"', [
          { field: 'action', message: 'must be "sign" or "decline"' },
        ]);
      }
      const name = field(body, 'name') ?? '';
      try {
        const result = await signing.sign(
          envelopeId,
          token,
          { name, consent: field(body, 'consent') === 'yes' },
          meta,
        );
        const view = await signing.page(envelopeId, token, meta);
        const done =
          result.envelope_status === 'completed'
            ? 'Thank you: you signed, and every party has now signed. The document below is the signed copy.'
            : 'Thank you: you signed. The next party is asked to sign now; nothing more to do.';
        return sendPage(reply, signingPage(view, token!, { done }));
      } catch (err) {
        // A missing name or consent: the form again, with the error on its field and the name kept.
        const appErr = toAppError(err);
        const at = appErr.details[0]?.field;
        if (at !== 'name' && at !== 'consent') throw err;
        const view = await signing.page(envelopeId, token, meta);
        const state: FormState = { error: { message: appErr.message, field: at }, name };
        return sendPage(reply, signingPage(view, token!, state, appErr.status));
      }
    },
  );
}
