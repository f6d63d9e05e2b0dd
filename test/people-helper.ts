// A browser-like client for the people tests: keeps the session cookie and the CSRF token.

import { type AddressInfo, createServer } from 'node:net';
import type { TestContext } from 'node:test';
import type { FastifyInstance, InjectOptions, LightMyRequestResponse } from 'fastify';
import type { Config } from '../src/config.ts';
import { renderMail, SCRUBBED_TOKEN } from '../src/core/mail/mailer.ts';
import { buildServer } from '../src/server.ts';
import { createServices } from '../src/services.ts';
import { testConfig, testDb } from './helper.ts';

export type Res = LightMyRequestResponse & { json<T = any>(): T };

export interface Browser {
  cookie: string | null;
  csrf: string | null;
  call(
    method: InjectOptions['method'],
    url: string,
    body?: unknown,
    opts?: { csrf?: boolean; headers?: Record<string, string> },
  ): Promise<Res>;
}

export function browser(app: FastifyInstance): Browser {
  const b: Browser = {
    cookie: null,
    csrf: null,
    async call(method, url, body, opts = {}) {
      const headers: Record<string, string> = { ...(opts.headers ?? {}) };
      if (b.cookie) headers.cookie = `signet_session=${b.cookie}`;
      if (b.csrf && opts.csrf !== false) headers['x-csrf-token'] = b.csrf;
      const res = (await app.inject({
        method,
        url,
        headers,
        ...(body === undefined ? {} : { payload: body as object }),
      })) as Res;
      const set = res.cookies.find((c) => c.name === 'signet_session');
      if (set) b.cookie = set.value === '' ? null : set.value;
      if (res.statusCode < 300 && res.headers['content-type']?.toString().includes('json')) {
        const j = res.json();
        if (typeof j?.csrf_token === 'string') b.csrf = j.csrf_token;
      }
      return res;
    },
  };
  return b;
}

/** The newest mail to `to` in the outbox, and the token its link carries. */
export async function lastMail(
  to: string,
  withToken = true,
): Promise<{ subject: string; text: string; html: string; token: string }> {
  const row = await testDb()
    .db.selectFrom('outbox_mail')
    .selectAll()
    .where('to', '=', to)
    .orderBy('created_at', 'desc')
    .orderBy('id', 'desc')
    .executeTakeFirstOrThrow();
  // As the operator reads it (`signet mail list`): the link token put in while it lives.
  const mail = renderMail(row);
  const m = /#token=([A-Za-z0-9_-]+)/.exec(mail.text);
  if (!m && withToken) throw new Error(`no token in mail to ${to}: ${mail.text}`);
  return { subject: mail.subject, text: mail.text, html: mail.html, token: m?.[1] ?? '' };
}

/** The outbox rows to `to`, oldest first, as stored (the link token apart, in `secret`). */
export async function outboxRows(to: string) {
  return testDb()
    .db.selectFrom('outbox_mail')
    .selectAll()
    .where('to', '=', to)
    .orderBy('created_at')
    .orderBy('id')
    .execute();
}

/** Every mail to `to`, oldest first, as the operator reads them (a live link token put in, else ''). */
export async function mailsTo(to: string): Promise<{ subject: string; text: string; token: string }[]> {
  return (await outboxRows(to)).map((row) => {
    const mail = renderMail(row);
    const token = /#token=([A-Za-z0-9_-]+)/.exec(mail.text)?.[1] ?? '';
    return { subject: mail.subject, text: mail.text, token: token === SCRUBBED_TOKEN ? '' : token };
  });
}

/** Follows the link of an email-change confirmation mail, as the dashboard would: POST /confirm_email. */
export async function confirmEmail(app: FastifyInstance, token: string): Promise<Res> {
  return (await app.inject({ method: 'POST', url: '/confirm_email', payload: { token } })) as Res;
}

/** A minimal SMTP server on loopback: enough of the protocol for nodemailer to hand over messages. */
export async function fakeSmtp(t: TestContext): Promise<{ url: string; received: () => string }> {
  let received = '';
  const server = createServer((sock) => {
    sock.write('220 fake ESMTP\r\n');
    let inData = false;
    sock.on('data', (buf) => {
      const text = buf.toString();
      received += text;
      if (inData) {
        if (text.includes('\r\n.\r\n')) {
          inData = false;
          sock.write('250 queued\r\n');
        }
        return;
      }
      for (const line of text.split('\r\n').filter(Boolean)) {
        if (/^(EHLO|HELO)/i.test(line)) sock.write('250-fake\r\n250 OK\r\n');
        else if (/^DATA/i.test(line)) {
          inData = true;
          sock.write('354 go ahead\r\n');
        } else if (/^QUIT/i.test(line)) {
          sock.write('221 bye\r\n');
          sock.end();
        } else sock.write('250 OK\r\n');
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => server.close());
  return { url: `smtp://127.0.0.1:${(server.address() as AddressInfo).port}`, received: () => received };
}

/** An app whose log lines (level info) are kept in `lines`, for tests that look for secrets in them. */
export async function loggedApp(t: TestContext, overrides: Partial<Config> = {}) {
  const lines: string[] = [];
  const config = testConfig({ ...overrides, logLevel: 'info' });
  const services = createServices(testDb().db, config);
  const app = await buildServer(config, services, { logStream: { write: (line) => lines.push(line) } });
  await app.ready();
  t.after(() => app.close());
  return { app, services, lines };
}

export async function mailCount(to: string): Promise<number> {
  const rows = await testDb().db.selectFrom('outbox_mail').select('id').where('to', '=', to).execute();
  return rows.length;
}

export const PASSWORD = 'Correct horse battery staple 1';
