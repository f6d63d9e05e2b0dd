// The completed PDF (issue 12 part 6): the document as uploaded, with a signature page appended that lists
// each party, the name it typed, when it signed and from which IP address. Its SHA-256 goes in the envelope's
// events (envelope.completed), so anyone holding the file can check it against the hash-chained history.
//
// pdf-lib (the library the envelope upload validates with) adds the page; the original pages are copied
// unchanged. The standard Helvetica font covers WinAnsi (Latin-1 and a few more) only: characters outside it
// are shown as "?" on the page, and the names as typed stay exact in the envelope events.
import { createHash } from 'node:crypto';
import { PDFDocument, type PDFFont, type PDFPage, rgb, StandardFonts } from 'pdf-lib';

export interface SignedParty {
  order: number;
  name: string;
  email: string;
  /** The name the party typed to sign. */
  signedName: string;
  signedAt: Date;
  ip: string | null;
}

export interface CompletedPdf {
  bytes: Uint8Array;
  sha256: string;
  pageCount: number;
}

const PAGE: [number, number] = [612, 792]; // US Letter, points
const MARGIN = 56;
const INK = rgb(0.13, 0.13, 0.13);
const GREY = rgb(0.4, 0.4, 0.4);

export function sha256Hex(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** The text with every character the font cannot draw replaced by "?". */
function drawable(font: PDFFont, text: string): string {
  const known = new Set(font.getCharacterSet());
  let out = '';
  for (const ch of text.replace(/[\r\n\t]+/g, ' ')) out += known.has(ch.codePointAt(0)!) ? ch : '?';
  return out;
}

/** The text cut to fit `width` at `size`, with an ellipsis when cut. */
function fitted(font: PDFFont, text: string, size: number, width: number): string {
  if (font.widthOfTextAtSize(text, size) <= width) return text;
  let cut = text;
  while (cut.length > 0 && font.widthOfTextAtSize(`${cut}...`, size) > width) cut = cut.slice(0, -1);
  return `${cut}...`;
}

export async function completedPdf(
  original: Uint8Array,
  envelope: { id: string; title: string; completedAt: Date },
  parties: readonly SignedParty[],
): Promise<CompletedPdf> {
  const doc = await PDFDocument.load(original, { updateMetadata: false });
  const regular = await doc.embedFont(StandardFonts.Helvetica);
  const bold = await doc.embedFont(StandardFonts.HelveticaBold);
  const width = PAGE[0] - 2 * MARGIN;

  let page: PDFPage = doc.addPage(PAGE);
  let y = PAGE[1] - MARGIN;
  const line = (
    text: string,
    o: { size?: number; font?: PDFFont; color?: typeof INK; gap?: number } = {},
  ) => {
    const size = o.size ?? 10;
    const font = o.font ?? regular;
    y -= size + (o.gap ?? 4);
    page.drawText(fitted(font, drawable(font, text), size, width), {
      x: MARGIN,
      y,
      size,
      font,
      color: o.color ?? INK,
    });
  };

  line('Signature page', { size: 18, font: bold, gap: 0 });
  line(envelope.title, { size: 12, gap: 10 });
  line(`Envelope ${envelope.id}`, { color: GREY, gap: 8 });
  line(`Completed ${envelope.completedAt.toISOString()}`, { color: GREY });
  line(`SHA-256 of the document as sent: ${sha256Hex(original)}`, { size: 8, color: GREY });
  y -= 12;

  const sorted = [...parties].sort((a, b) => a.order - b.order);
  for (const p of sorted) {
    // A party takes five lines; start a new page when they would not fit.
    if (y < MARGIN + 90) {
      page = doc.addPage(PAGE);
      y = PAGE[1] - MARGIN;
    }
    page.drawLine({
      start: { x: MARGIN, y: y - 4 },
      end: { x: PAGE[0] - MARGIN, y: y - 4 },
      thickness: 0.5,
      color: GREY,
    });
    y -= 8;
    line(`${p.order}. ${p.name} <${p.email}>`, { size: 11, font: bold, gap: 6 });
    line(`Signed as: ${p.signedName}`);
    line(`Signed at: ${p.signedAt.toISOString()}`);
    line(`IP address: ${p.ip ?? 'unknown'}`);
    y -= 6;
  }
  if (y < MARGIN + 30) {
    page = doc.addPage(PAGE);
    y = PAGE[1] - MARGIN;
  }
  y -= 10;
  line('Each party signed by typing its name and ticking a consent box, on the page reached', {
    size: 8,
    color: GREY,
  });
  line('through the signing link mailed to its address, in the order shown.', { size: 8, color: GREY });

  const bytes = await doc.save();
  return { bytes, sha256: sha256Hex(bytes), pageCount: doc.getPageCount() };
}
