// The dashboard (web/, a React single-page app built by `npm run build:web` into web/dist) served at `/`.
//
// - Hashed assets (/assets/*) are served with a year's `immutable` caching: their names change with their
//   content. index.html is `no-cache`, so a new build is picked up at the next page load.
// - Every page carries a strict Content-Security-Policy: scripts, styles and connections from this origin
//   only, no inline script, no framing (the app sets no inline <script> or style attribute in its HTML;
//   React's `style` props go through the CSSOM, which a CSP does not govern).
// - The SPA fallback answers GET (and HEAD) for the app's own routes only, listed below: it never shadows
//   /api, /management, /restapi, /oauth, /.well-known, /docs, /openapi.json, /healthz, /readyz, nor the POST
//   endpoints that share a path with a page (/login, /signup, /verify_email, /invites/accept, …): Fastify
//   routes by method, and those stay the people face's. An unknown path is still the JSON 404.
// - Mailed links carry their token in the fragment (/verify_email#token=…, docs/people-and-sessions.md), which
//   a browser never sends: the page reads it from location.hash and POSTs it to the endpoint of the same name.
// - Files are read once at start and kept in memory with a gzip copy (the whole build is a few hundred KB).
import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';

export const DASHBOARD_CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  // data: for the favicon placeholder; blob: for the preview of a logo chosen but not yet uploaded.
  "img-src 'self' data: blob:",
  "font-src 'self'",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

/** The app's client-side routes (web/src/routes.ts must agree): GET on these serves index.html. */
export const DASHBOARD_ROUTES = [
  '/',
  '/login',
  '/signup',
  '/verify_email',
  '/confirm_email',
  '/reset_password',
  '/invites/accept',
  '/activate',
  '/choose_account',
  '/me',
  '/me/*',
  '/admin',
  '/admin/*',
] as const;

const PAGE_HEADERS = {
  'content-security-policy': DASHBOARD_CSP,
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
  'cross-origin-opener-policy': 'same-origin',
};

const TYPES: Record<string, string> = {
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.html': 'text/html; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.woff2': 'font/woff2',
  '.json': 'application/json',
  '.map': 'application/json',
};

interface StaticFile {
  body: Buffer;
  gzip: Buffer | null;
  type: string;
}

/** web/dist beside src/ (the repository's or the package's root), or SIGNET_WEB_DIR for a build elsewhere. */
export function dashboardDir(): string {
  if (process.env.SIGNET_WEB_DIR) return path.resolve(process.env.SIGNET_WEB_DIR);
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 5; i++) {
    if (existsSync(path.join(dir, 'package.json'))) return path.join(dir, 'web', 'dist');
    dir = path.dirname(dir);
  }
  return path.resolve('web', 'dist');
}

async function load(dir: string): Promise<Map<string, StaticFile> | null> {
  if (!existsSync(path.join(dir, 'index.html'))) return null;
  const files = new Map<string, StaticFile>();
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  for (const entry of entries) {
    if (!entry.isFile()) continue;
    const full = path.join(entry.parentPath, entry.name);
    const rel = `/${path.relative(dir, full).split(path.sep).join('/')}`;
    const type = TYPES[path.extname(rel)] ?? 'application/octet-stream';
    const body = await readFile(full);
    // Only text is worth compressing; images are compressed already.
    const gzip =
      /^(text\/|application\/json|image\/svg)/.test(type) && body.length > 1024 ? gzipSync(body) : null;
    files.set(rel, { body, gzip, type });
  }
  return files;
}

function send(request: FastifyRequest, reply: FastifyReply, file: StaticFile): FastifyReply {
  reply.type(file.type).header('vary', 'accept-encoding');
  const accepts = request.headers['accept-encoding'];
  if (file.gzip && typeof accepts === 'string' && /\bgzip\b/.test(accepts)) {
    return reply.header('content-encoding', 'gzip').send(file.gzip);
  }
  return reply.send(file.body);
}

const NOT_BUILT = `<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>Signet</title></head>
<body><h1>The dashboard is not built</h1><p>Run <code>npm run build:web</code> (or <code>npm ci</code>, which
builds it) and restart Signet. The API is served as usual at <a href="/docs">/docs</a>.</p></body></html>`;

export async function webFace(fastify: FastifyInstance, opts: { dir?: string } = {}): Promise<void> {
  const files = await load(opts.dir ?? dashboardDir());
  const index = files?.get('/index.html') ?? null;

  const page = async (request: FastifyRequest, reply: FastifyReply) => {
    reply.headers(PAGE_HEADERS).header('cache-control', 'no-cache');
    if (!index) return reply.code(503).type('text/html; charset=utf-8').send(NOT_BUILT);
    return send(request, reply, index);
  };
  for (const url of DASHBOARD_ROUTES) fastify.get(url, { schema: { hide: true } }, page);

  fastify.get<{ Params: { '*': string } }>(
    '/assets/*',
    { schema: { hide: true } },
    async (request, reply) => {
      const file = files?.get(`/assets/${request.params['*']}`);
      if (!file) {
        return reply.code(404).header('cache-control', 'no-store').type('text/plain').send('no such asset');
      }
      // Vite puts a content hash in every asset's name: the same URL is the same bytes forever.
      reply
        .header('cache-control', 'public, max-age=31536000, immutable')
        .header('x-content-type-options', 'nosniff');
      return send(request, reply, file);
    },
  );
}
