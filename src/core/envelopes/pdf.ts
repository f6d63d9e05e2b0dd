// The envelope's document: a PDF that pdf-lib (a maintained PDF library, the one the signing page uses to
// append the signature page) can parse, not encrypted (a signature page could not be appended), within
// SIGNET_ENVELOPE_MAX_BYTES. Anything else is refused at create, never at send or at signing.
import { createHash } from 'node:crypto';
import { EncryptedPDFError, PDFDocument } from 'pdf-lib';
import { AppError } from '../errors.ts';

export interface CheckedPdf {
  bytes: Buffer;
  pageCount: number;
  sha256: string;
}

export function documentTooLarge(size: number, maxBytes: number): AppError {
  return new AppError(
    'document_too_large',
    `the document is ${size} bytes; envelopes take PDFs of at most ${maxBytes} bytes (SIGNET_ENVELOPE_MAX_BYTES)`,
    [{ field: 'document', message: 'too large', size, max_bytes: maxBytes }],
  );
}

function invalidDocument(message: string): AppError {
  return new AppError('invalid_document', `document: ${message}`, [{ field: 'document', message }]);
}

export async function checkPdf(bytes: Buffer, maxBytes: number): Promise<CheckedPdf> {
  if (bytes.length === 0) throw invalidDocument('is empty; send a PDF');
  if (bytes.length > maxBytes) throw documentTooLarge(bytes.length, maxBytes);
  // The header is within the first 1024 bytes (ISO 32000-1, 7.5.2; readers accept leading junk there).
  if (!bytes.subarray(0, 1024).includes('%PDF-')) {
    throw invalidDocument('is not a PDF (no %PDF- header); envelopes take PDF documents only');
  }
  let doc: PDFDocument;
  try {
    doc = await PDFDocument.load(bytes, { updateMetadata: false, throwOnInvalidObject: true });
  } catch (err) {
    if (err instanceof EncryptedPDFError) {
      throw invalidDocument('is encrypted; send it without a password or encryption');
    }
    throw invalidDocument(`could not be read as a PDF (${(err as Error).message.slice(0, 200)})`);
  }
  const pageCount = doc.getPageCount();
  if (pageCount === 0) throw invalidDocument('has no page');
  return { bytes, pageCount, sha256: createHash('sha256').update(bytes).digest('hex') };
}
