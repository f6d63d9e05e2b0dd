// Serving a stored logo, on every face that serves one (/api and the eSignature brands routes). The file was
// checked on upload (core/brands/logos.ts), but what keeps a stored file from acting as a page of ours is how
// it is served: nosniff, so a browser takes the declared image type and nothing else, and for SVG (a document
// that can carry script) a CSP that allows no script, no fetch and no frame, only its inline styles.
import type { FastifyReply } from 'fastify';
import type { LogoFile } from '../core/brands/service.ts';

export const SVG_LOGO_CSP = "default-src 'none'; style-src 'unsafe-inline'";

export function sendLogo(reply: FastifyReply, logo: LogoFile): FastifyReply {
  reply.type(logo.content_type).header('x-content-type-options', 'nosniff');
  if (logo.content_type === 'image/svg+xml') reply.header('content-security-policy', SVG_LOGO_CSP);
  return reply.send(logo.content);
}
