// The mails Signet sends about people: email verification, password reset, invite. Each has a text part and a
// plain HTML part; every interpolated value is escaped, and a brand's color is used only if it is a #RRGGBB.
// When the account has a sending-default brand, its company/name, sender name and primary color are used.
import type { Db } from '../../db/connection.ts';
import { firstActiveAccount } from '../users/repository.ts';

export interface MailBrand {
  name: string;
  company: string | null;
  email_sender_name: string | null;
  primary: string | null;
}

export interface RenderedMail {
  subject: string;
  text: string;
  html: string;
  /** The display name to send as, when a brand names one. */
  fromName: string | null;
}

const HEX = /^#[0-9A-Fa-f]{6}$/;
const DEFAULT_PRIMARY = '#1f4e79';

export function escapeHtml(s: string): string {
  return s
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&#39;');
}

/** The account's sending-default brand, if it has one. */
export async function sendingBrand(db: Db, accountId: string | null): Promise<MailBrand | null> {
  if (!accountId) return null;
  const row = await db
    .selectFrom('brands')
    .select(['name', 'company', 'email_sender_name', 'colors'])
    .where('account_id', '=', accountId)
    .where('is_sending_default', '=', true)
    .executeTakeFirst();
  if (!row) return null;
  const primary = (row.colors as Record<string, unknown>)?.primary;
  return {
    name: row.name,
    company: row.company,
    email_sender_name: row.email_sender_name,
    primary: typeof primary === 'string' && HEX.test(primary) ? primary : null,
  };
}

/** The brand a user's mail is sent with: the sending default of their first active account. */
export async function userBrand(db: Db, userId: string): Promise<MailBrand | null> {
  return sendingBrand(db, await firstActiveAccount(db, userId));
}

function layout(
  brand: MailBrand | null,
  subject: string,
  paragraphs: string[],
  action: { label: string; url: string },
  footer: string,
): RenderedMail {
  const who = brand?.company || brand?.name || 'Signet';
  const color = brand?.primary && HEX.test(brand.primary) ? brand.primary : DEFAULT_PRIMARY;
  const text = [...paragraphs, '', `${action.label}: ${action.url}`, '', footer, '', `— ${who}`].join('\n');
  const e = escapeHtml;
  const html = [
    '<!doctype html>',
    `<html><head><meta charset="utf-8"><title>${e(subject)}</title></head>`,
    '<body style="font-family:Arial,Helvetica,sans-serif;color:#222;line-height:1.5">',
    `<div style="border-top:4px solid ${color};padding:16px 0"><strong>${e(who)}</strong></div>`,
    ...paragraphs.map((p) => `<p>${e(p)}</p>`),
    `<p><a href="${e(action.url)}" style="background:${color};color:#fff;padding:10px 16px;text-decoration:none;border-radius:4px">${e(action.label)}</a></p>`,
    `<p style="font-size:13px;color:#555">If the button does not work, open this link: ${e(action.url)}</p>`,
    `<p style="font-size:13px;color:#555">${e(footer)}</p>`,
    '</body></html>',
  ].join('\n');
  return { subject, text, html, fromName: brand?.email_sender_name || null };
}

export function verifyEmailMail(o: { brand: MailBrand | null; name: string; link: string }): RenderedMail {
  const who = o.brand?.company || o.brand?.name || 'Signet';
  return layout(
    o.brand,
    `Confirm your email address for ${who}`,
    [`Hello${o.name ? ` ${o.name}` : ''},`, 'Please confirm that this is your email address.'],
    { label: 'Confirm email address', url: o.link },
    'The link works once and expires in 24 hours. If you did not sign up, ignore this mail.',
  );
}

export function activationMail(o: {
  brand: MailBrand | null;
  name: string;
  organization: string;
  link: string;
  days: number;
}): RenderedMail {
  const who = o.brand?.company || o.brand?.name || o.organization;
  return layout(
    o.brand,
    `Activate your ${who} account`,
    [
      `Hello${o.name ? ` ${o.name}` : ''},`,
      `An administrator of ${o.organization} made you a user. Choose a password to activate your account.`,
    ],
    { label: 'Choose a password', url: o.link },
    `The link works once and expires in ${o.days} days. If you did not expect this, ignore this mail.`,
  );
}

export function passwordResetMail(o: {
  brand: MailBrand | null;
  link: string;
  byAdmin: boolean;
}): RenderedMail {
  const who = o.brand?.company || o.brand?.name || 'Signet';
  return layout(
    o.brand,
    `Reset your ${who} password`,
    [
      'Hello,',
      o.byAdmin
        ? 'An administrator of your organization asked for you to set a new password.'
        : 'Someone (hopefully you) asked to reset the password of this email address.',
    ],
    { label: 'Set a new password', url: o.link },
    'The link works once and expires in 30 minutes. If you did not ask for this, ignore this mail: your password stays as it is.',
  );
}

export function inviteMail(o: {
  brand: MailBrand | null;
  inviter: string;
  organization: string;
  account: string;
  role: string;
  link: string;
}): RenderedMail {
  return layout(
    o.brand,
    `You are invited to ${o.organization}`,
    [
      'Hello,',
      `${o.inviter} invited you to join ${o.organization} (account ${o.account}) as ${o.role === 'admin' ? 'an admin' : `a ${o.role}`}.`,
    ],
    { label: 'Accept the invitation', url: o.link },
    'The invitation works once and expires in 7 days.',
  );
}

/** To a person who signed up with an address that already has a user: no new account, a way back in. */
export function accountExistsMail(o: {
  brand: MailBrand | null;
  organization: string;
  link: string;
}): RenderedMail {
  return layout(
    o.brand,
    `You already have an account at ${o.organization}`,
    [
      'Hello,',
      `Someone (hopefully you) tried to sign up with this email address, which already has an account at ${o.organization}. No new account was made.`,
      'Sign in with your password, or reset it if you have forgotten it.',
    ],
    { label: 'Sign in or reset your password', url: o.link },
    'If you did not try to sign up, ignore this mail: nothing has changed.',
  );
}

/** What the mails of an email change (src/core/users/email-changes.ts) say. */
export interface EmailChangeFacts {
  brand: MailBrand | null;
  name: string;
  oldEmail: string;
  newEmail: string;
}

/** To the new address of an email change: following the link makes it the sign-in address. */
export function confirmEmailChangeMail(o: EmailChangeFacts & { link: string }): RenderedMail {
  const who = o.brand?.company || o.brand?.name || 'Signet';
  return layout(
    o.brand,
    `Confirm your new email address for ${who}`,
    [
      `Hello${o.name ? ` ${o.name}` : ''},`,
      `The email address of your account is to change from ${o.oldEmail} to ${o.newEmail}. Until you confirm, you keep signing in as ${o.oldEmail}.`,
    ],
    { label: 'Confirm the new address', url: o.link },
    'The link works once and expires in 24 hours. If you did not expect this, ignore this mail: nothing changes.',
  );
}

/** To the old address of an email change: told, with no link to act on. */
export function emailChangeNoticeMail(o: EmailChangeFacts & { signInUrl: string }): RenderedMail {
  return layout(
    o.brand,
    'A change of your email address was requested',
    [
      `Hello${o.name ? ` ${o.name}` : ''},`,
      `A change of the email address of your account from ${o.oldEmail} to ${o.newEmail} was requested. It takes effect only once the link sent to ${o.newEmail} is followed; until then you sign in as ${o.oldEmail}.`,
      'If this was not you or your administrator, sign in and change your password, and tell your administrator.',
    ],
    { label: 'Sign in', url: o.signInUrl },
    'You receive this mail because it is the current address of your account.',
  );
}

/** To the old address once an email change is confirmed: it is no longer the sign-in address. */
export function emailChangedMail(o: EmailChangeFacts & { signInUrl: string }): RenderedMail {
  return layout(
    o.brand,
    'The email address of your account has changed',
    [
      `Hello${o.name ? ` ${o.name}` : ''},`,
      `The email address of your account is now ${o.newEmail}: the link sent there was followed. You no longer sign in as ${o.oldEmail}.`,
      'If this was not you or your administrator, tell your administrator at once.',
    ],
    { label: 'Sign in', url: o.signInUrl },
    'You receive this mail because this was the address of your account until now.',
  );
}

/** What a signing mail (src/core/signing/service.ts) says: who sends what, branded as the envelope's account. */
export interface SigningMailFacts {
  brand: MailBrand | null;
  /** The account's name, when no brand names the sender. */
  sender: string;
  partyName: string;
  title: string;
  message: string;
}

function senderOf(o: SigningMailFacts): string {
  return o.brand?.email_sender_name || o.brand?.company || o.brand?.name || o.sender;
}

/**
 * To the party whose turn it is: the signing link (its token stays out of the text until sent). A reminder
 * (POST …/remind) is the same mail with the same link, saying it is one.
 */
export function signRequestMail(
  o: SigningMailFacts & { link: string; expiresAt: Date; reminder?: boolean },
): RenderedMail {
  const sender = senderOf(o);
  return layout(
    o.brand,
    `${o.reminder ? 'Reminder: ' : ''}${sender} sent you "${o.title}" to sign`,
    [
      `Hello ${o.partyName},`,
      o.reminder
        ? `${sender} reminds you that "${o.title}" is waiting for your signature.`
        : `${sender} asks you to review and sign "${o.title}".`,
      ...(o.message ? [`Their message: ${o.message}`] : []),
    ],
    { label: 'Review and sign', url: o.link },
    `The link is yours alone: do not forward this mail. It works until ${utc(o.expiresAt)} UTC.`,
  );
}

function utc(d: Date): string {
  return d.toISOString().slice(0, 16).replace('T', ' ');
}

/**
 * When the last signer has signed: to each party, its own link, which now shows the signed copy (the
 * document with its signature page) until the link expires; to the sender (`link` without a token), where
 * the API serves the signed PDF.
 */
export function completedMail(
  o: SigningMailFacts & {
    link: string;
    signedSha256: string;
    /** The party's link expiry; absent in the sender's mail. */
    expiresAt?: Date;
    toSender?: boolean;
  },
): RenderedMail {
  const sender = senderOf(o);
  return layout(
    o.brand,
    `"${o.title}" is signed by every party`,
    [
      `Hello ${o.partyName},`,
      o.toSender
        ? `Every party has signed "${o.title}", which you sent. The signed PDF carries a signature page with each party, the time and the address they signed from.`
        : `Every party has signed "${o.title}", sent by ${sender}. Keep the signed copy: it carries a signature page with each party, the time and the address they signed from.`,
      `SHA-256 of the signed PDF: ${o.signedSha256}`,
    ],
    o.toSender
      ? { label: 'Download the signed PDF', url: o.link }
      : { label: 'Open the signed document', url: o.link },
    o.toSender
      ? 'The link needs you signed in to Signet (or the API with a key: GET /api/envelope/{id}/pdf).'
      : `The link is yours alone: do not forward this mail. It works until ${utc(o.expiresAt ?? new Date())} UTC.`,
  );
}

/** To an organization's owners and admins: Signet stopped sending to a webhook endpoint that kept failing. */
export function webhookDisabledMail(o: {
  organization: string;
  url: string;
  failingSince: Date;
  lastError: string;
  endpointsUrl: string;
}): RenderedMail {
  return layout(
    null,
    `Webhook endpoint disabled: ${o.url}`,
    [
      'Hello,',
      `Every delivery to the webhook endpoint ${o.url} of ${o.organization} has failed since ${o.failingSince.toISOString()}, so Signet has disabled it. The last attempt: ${o.lastError}.`,
      'Its events are kept: once the receiver works again, enable the endpoint (PATCH {"enabled": true}) and replay the failed deliveries (POST …/replay).',
    ],
    { label: 'Open the webhook endpoints', url: o.endpointsUrl },
    'You receive this mail as an owner or admin of the organization.',
  );
}
