// Envelope fixtures: real PDFs made with pdf-lib, credits granted as the operator grants them.
import { randomBytes } from 'node:crypto';
import { PDFDocument, StandardFonts } from 'pdf-lib';
import { systemPrincipal } from '../src/core/principal.ts';
import type { Services } from '../src/services.ts';

/** A PDF of `pages` pages; with `padTo`, padded (in an uncompressed stream) to about that many bytes. */
export async function makePdf(pages = 1, padTo = 0): Promise<Buffer> {
  const doc = await PDFDocument.create();
  const font = await doc.embedFont(StandardFonts.Helvetica);
  for (let i = 0; i < pages; i++) {
    doc.addPage([612, 792]).drawText(`Agreement, page ${i + 1}`, { x: 72, y: 700, size: 14, font });
  }
  let bytes = Buffer.from(await doc.save({ useObjectStreams: false }));
  if (padTo > bytes.length) {
    // Random bytes in a stream object no page refers to: a valid PDF of the size asked.
    doc.context.register(doc.context.stream(randomBytes(padTo - bytes.length)));
    bytes = Buffer.from(await doc.save({ useObjectStreams: false }));
  }
  return bytes;
}

/** Grants credits to an organization as the server's operator does (signet credits grant). */
export async function grantCredits(
  services: Services,
  organizationId: string,
  amount: number,
): Promise<void> {
  await services.credits.grant(
    { principal: systemPrincipal(organizationId, 'test'), meta: {} },
    { organization_id: organizationId, amount, reason: 'test fixture' },
  );
}

export function parties(n = 2): { email: string; name: string; role: 'signer'; order: number }[] {
  return Array.from({ length: n }, (_, i) => ({
    email: `signer${i + 1}@example.test`,
    name: `Signer ${i + 1}`,
    role: 'signer' as const,
    order: i + 1,
  }));
}
