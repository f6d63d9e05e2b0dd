// Logo uploads are checked before they are stored: the declared Content-Type must match the file's magic
// bytes, and SVG (a document that can carry script) must be plain drawing. Logos are served back with
// nosniff and, for SVG, a CSP that forbids script, so a stored file cannot act as a page of ours.
import { AppError } from '../errors.ts';

export const LOGO_KINDS = ['primary', 'secondary', 'email'] as const;
export type LogoKind = (typeof LOGO_KINDS)[number];

export const LOGO_TYPES = ['image/png', 'image/jpeg', 'image/gif', 'image/svg+xml'] as const;
export type LogoType = (typeof LOGO_TYPES)[number];

const invalidLogo = (message: string) => new AppError('invalid_logo', message, [{ field: 'body', message }]);

const startsWith = (bytes: Buffer, prefix: readonly number[]) =>
  bytes.length >= prefix.length && prefix.every((b, i) => bytes[i] === b);

const PNG = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
const JPEG = [0xff, 0xd8, 0xff];
const GIF87A = [...Buffer.from('GIF87a')];
const GIF89A = [...Buffer.from('GIF89a')];

/** The text of an SVG file with a UTF-8 byte-order mark and leading whitespace removed. */
function svgText(bytes: Buffer): string {
  return bytes
    .toString('utf8')
    .replace(/^\uFEFF/, '')
    .trimStart();
}

function looksLikeSvg(bytes: Buffer): boolean {
  const text = svgText(bytes.subarray(0, 4096)).toLowerCase();
  return text.startsWith('<svg') || text.startsWith('<?xml');
}

/** What the bytes are, judged by their first bytes alone; null when none of the accepted types. */
export function sniffLogoType(bytes: Buffer): LogoType | null {
  if (startsWith(bytes, PNG)) return 'image/png';
  if (startsWith(bytes, JPEG)) return 'image/jpeg';
  if (startsWith(bytes, GIF87A) || startsWith(bytes, GIF89A)) return 'image/gif';
  if (looksLikeSvg(bytes)) return 'image/svg+xml';
  return null;
}

// `<script` also with a namespace prefix (`<svg:script`); event handler attributes (`onload=`) however they are
// separated from what precedes them (whitespace, `/` as in `<svg/onload=…>`, a closing quote);
// `javascript:` URLs (in href, xlink:href, or an <animate>/<set> that writes one). These are text checks, not a
// sanitiser: the CSP sent with every SVG logo is what keeps script from running.
const SVG_SCRIPT = /<\s*([a-z0-9_.-]+:)?script\b/i;
const SVG_EVENT_ATTRIBUTE = /(?:^|[^a-z0-9_.-])on[a-z]+\s*=/i;
const SVG_JS_URL = /javascript\s*:/i;

function checkSvg(bytes: Buffer): void {
  const text = svgText(bytes);
  const lower = text.toLowerCase();
  if (!(lower.startsWith('<svg') || (lower.startsWith('<?xml') && lower.includes('<svg')))) {
    throw invalidLogo('an SVG logo must be a text document starting with <svg or <?xml and containing <svg');
  }
  if (SVG_SCRIPT.test(text)) throw invalidLogo('an SVG logo must not contain <script> elements');
  const event = SVG_EVENT_ATTRIBUTE.exec(text);
  if (event) {
    const name = /on[a-z]+/i.exec(event[0])![0];
    throw invalidLogo(`an SVG logo must not contain event handler attributes (found ${name}=)`);
  }
  if (SVG_JS_URL.test(text)) throw invalidLogo('an SVG logo must not contain javascript: URLs');
}

/**
 * Checks an uploaded logo and returns its media type (without parameters). Throws 422 invalid_logo for an
 * empty body, a type this endpoint does not take, bytes that are not what the Content-Type says, or an SVG that
 * carries script.
 */
export function checkLogo(declared: string | undefined, bytes: Buffer | undefined): LogoType {
  const type = (declared ?? '').split(';')[0]!.trim().toLowerCase();
  if (!(LOGO_TYPES as readonly string[]).includes(type)) {
    throw new AppError(
      'unsupported_media_type',
      `a logo is sent as the raw image with Content-Type ${LOGO_TYPES.join(', ')}${type ? `; got ${type}` : ''}`,
    );
  }
  if (!bytes || bytes.length === 0) throw invalidLogo('the body is empty; send the image file as the body');
  const actual = sniffLogoType(bytes);
  if (actual !== type) {
    throw invalidLogo(
      actual
        ? `Content-Type says ${type} but the file is ${actual}`
        : `Content-Type says ${type} but the file is not one (its first bytes match no PNG, JPEG, GIF or SVG)`,
    );
  }
  if (type === 'image/svg+xml') checkSvg(bytes);
  return type as LogoType;
}
