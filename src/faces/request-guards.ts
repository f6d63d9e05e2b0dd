// What every face does to a request before any route sees it, so no text PostgreSQL cannot store and no body
// Signet cannot decode gets past the door (a NUL reaching PostgreSQL is a 500; invalid UTF-8 silently became
// U+FFFD). Installed once on the app, before the faces: their routes inherit the JSON parser and the hooks,
// and a rejected request is rendered by the face's own error handler in the face's dialect.
//
//   charset   a body declared in a charset other than UTF-8 (or its subset US-ASCII): 415, whatever the
//             media type (JSON, CSV, multipart); Signet decodes every text body as UTF-8.
//   JSON      decoded strictly as UTF-8 (invalid bytes: 422 naming the field they fall in), parsed as
//             Fastify's own parser does (prototype poisoning refused), and any string or key holding U+0000
//             refused with 422 naming it.
//   query, path parameters: U+0000 refused with 422 naming the parameter.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { AppError } from '../core/errors.ts';

const ACCEPTED_CHARSETS = new Set(['utf-8', 'utf8', 'us-ascii']);

/** The charset parameter of a Content-Type, lower-cased and unquoted, or null when there is none. */
export function charsetOf(contentType: string | undefined): string | null {
  if (!contentType) return null;
  for (const param of contentType.split(';').slice(1)) {
    const eq = param.indexOf('=');
    if (eq < 0 || param.slice(0, eq).trim().toLowerCase() !== 'charset') continue;
    return param
      .slice(eq + 1)
      .trim()
      .replace(/^"(.*)"$/, '$1')
      .toLowerCase();
  }
  return null;
}

/** 415 for a body in a charset Signet does not decode. */
export function requireUtf8(contentType: string | undefined): void {
  const charset = charsetOf(contentType);
  if (charset === null || ACCEPTED_CHARSETS.has(charset)) return;
  throw new AppError(
    'unsupported_media_type',
    `Content-Type: charset "${charset.slice(0, 40)}" is not supported; send the body as UTF-8 (charset=utf-8, or no charset)`,
    [{ field: 'Content-Type', location: 'header', message: 'unsupported charset' }],
  );
}

type Path = (string | number)[];

/** `groups.0.groupName` (the dotted form validation errors use), with a NUL shown as the escape it was sent as. */
function dotted(path: Path): string {
  return path.length === 0 ? '(root)' : path.map((p) => String(p).replaceAll('\u0000', '\\u0000')).join('.');
}

/** RFC 6901 JSON pointer: `/groups/0/groupName`. */
function pointer(path: Path): string {
  return path.map((p) => `/${String(p).replaceAll('~', '~0').replaceAll('/', '~1')}`).join('');
}

function invalidText(location: string, path: Path, message: string): AppError {
  const field = dotted(path);
  return new AppError('invalid_text', `${location}.${field}: ${message}`, [
    { field, pointer: pointer(path), location, message },
  ]);
}

const NUL_MESSAGE = 'contains a NUL character (U+0000), which text fields cannot hold; remove it';

/** The path of the first string (value or key) in `value` for which `bad` holds, or null. Iterative: no recursion limit. */
function findString(value: unknown, bad: (s: string) => boolean): Path | null {
  const stack: { value: unknown; path: Path }[] = [{ value, path: [] }];
  while (stack.length > 0) {
    const { value: v, path } = stack.pop()!;
    if (typeof v === 'string') {
      if (bad(v)) return path;
    } else if (Array.isArray(v)) {
      for (let i = v.length - 1; i >= 0; i--) stack.push({ value: v[i], path: [...path, i] });
    } else if (v !== null && typeof v === 'object') {
      const entries = Object.entries(v);
      for (let i = entries.length - 1; i >= 0; i--) {
        const [k, child] = entries[i]!;
        if (bad(k)) return [...path, k];
        stack.push({ value: child, path: [...path, k] });
      }
    }
  }
  return null;
}

const hasNul = (s: string) => s.includes('\u0000');
const strictUtf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false });
const lenientUtf8 = new TextDecoder('utf-8', { fatal: false, ignoreBOM: false });

export function installRequestGuards(fastify: FastifyInstance): void {
  // Bodies in another charset: refused before any parser reads them (CSV and multipart routes install
  // parsers of their own, and those hand the raw stream on).
  // Synchronous hooks: they run on every request, and an async one costs a promise and a microtask turn.
  fastify.addHook('preParsing', (request, _reply, payload, done) => {
    const { headers } = request;
    const announced =
      headers['transfer-encoding'] !== undefined ||
      (headers['content-length'] !== undefined && headers['content-length'] !== '0');
    try {
      if (announced) requireUtf8(headers['content-type']);
    } catch (err) {
      return done(err as AppError);
    }
    done(null, payload);
  });

  const parseJson = fastify.getDefaultJsonParser('error', 'error');
  fastify.removeContentTypeParser('application/json');
  fastify.addContentTypeParser('application/json', { parseAs: 'buffer' }, (request, raw, done) => {
    const body = raw as Buffer;
    let text: string;
    try {
      text = strictUtf8.decode(body);
    } catch {
      // Name the field the bad bytes fall in: decoded leniently they are U+FFFD, which a valid body could
      // hold too, but the first string holding one is where to look.
      let at: Path | null = null;
      try {
        at = findString(JSON.parse(lenientUtf8.decode(body)), (s) => s.includes('\uFFFD'));
      } catch {
        // not JSON either: the body as a whole is named
      }
      done(invalidText('body', at ?? [], 'is not valid UTF-8; send text as UTF-8'), undefined);
      return;
    }
    parseJson(request as FastifyRequest, text, (err, parsed) => {
      if (err) return done(err, undefined);
      // A NUL can only be in JSON text as the escape \u0000: most bodies are not walked at all.
      const at = text.includes('\\u0000') ? findString(parsed, hasNul) : null;
      if (at) return done(invalidText('body', at, NUL_MESSAGE), undefined);
      done(null, parsed);
    });
  });

  fastify.addHook('preValidation', (request, _reply, done) => {
    for (const [location, values] of [
      ['query', request.query],
      ['params', request.params],
    ] as const) {
      if (values === null || typeof values !== 'object') continue;
      const at = findString(values, hasNul);
      if (at) return done(invalidText(location, at, NUL_MESSAGE));
    }
    done();
  });
}
