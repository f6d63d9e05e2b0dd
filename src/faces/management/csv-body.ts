// How a CSV file reaches the /management bulk operations: the four wire encodings DocuSign's clients use
// (shared/reference/docusign-admin-api.md §5.2, verified by capture in §6.3), all accepted on every route:
//
//   SDK, Buffer      application/octet-stream, Content-Disposition: form-data; name="file"; filename="file.csv"
//   SDK, string      multipart/form-data, one field named "file.csv" (no filename)
//   SDK, ReadStream  multipart/form-data, one file part named "file.csv" with a filename, Content-Type text/csv
//   curl, PowerShell text/csv (Content-Disposition: filename=x.csv), the raw CSV
//
// The management face is its own encapsulated plugin, so each route module that takes a CSV installs these
// parsers for itself (other routes keep JSON only). Raw bodies are handed over as the request stream and
// multipart parts as theirs: the consumer streams them on, nothing is buffered here.
import { Readable } from 'node:stream';
import multipart from '@fastify/multipart';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { AppError } from '../../core/errors.ts';

export const RAW_CSV_TYPES = [
  'text/csv',
  'application/csv',
  'text/plain',
  'application/octet-stream',
  'application/vnd.ms-excel',
];

/** Installs the multipart and raw-CSV body parsers on `fastify` (a route module's own plugin). */
export async function acceptCsvBodies(fastify: FastifyInstance, maxBytes: number): Promise<void> {
  await fastify.register(multipart, {
    limits: {
      files: 1,
      fileSize: maxBytes + 1,
      fieldSize: Math.min(maxBytes + 1, 64 * 1024 * 1024),
      parts: 10,
    },
  });
  fastify.addContentTypeParser(RAW_CSV_TYPES, (_request, payload, done) => done(null, payload));
}

/** The file name a raw upload names in Content-Disposition (`filename="x.csv"` or `filename*=UTF-8''x.csv`). */
export function fileNameOf(request: FastifyRequest): string | null {
  const cd = request.headers['content-disposition'];
  const m = typeof cd === 'string' ? /filename\*?=(?:UTF-8'')?"?([^";]+)"?/i.exec(cd) : null;
  if (!m) return null;
  try {
    return cleanFileName(decodeURIComponent(m[1]!));
  } catch {
    return cleanFileName(m[1]!);
  }
}

/**
 * A file name as the client sent it, without control characters (`%00` decodes to a NUL, which PostgreSQL
 * cannot store: a 500) and at most 255 characters; null when nothing is left.
 */
function cleanFileName(name: string | null | undefined): string | null {
  const clean = (name ?? '').replace(/\p{Cc}/gu, '').slice(0, 255);
  return clean === '' ? null : clean;
}

/**
 * Hands the uploaded CSV, in whichever of the four encodings it came, to `consume` as a byte stream, and
 * returns what `consume` returns. `consume` must read the stream to its end before it resolves (a multipart
 * part is only valid while its part is current).
 */
export async function withCsvUpload<T>(
  request: FastifyRequest,
  consume: (body: AsyncIterable<Buffer | string>, fileName: string | null) => Promise<T>,
): Promise<T> {
  const headerName = fileNameOf(request);
  if (request.isMultipart()) {
    // A body that is not multipart at all (e.g. no boundary) fails while the parts are read: a 400, not a
    // 500. Errors with a status of their own (a part over the size limit: 413) keep it.
    const parts = request.parts()[Symbol.asyncIterator]();
    const next = async () => {
      try {
        return await parts.next();
      } catch (err) {
        if (err instanceof AppError || typeof (err as { statusCode?: unknown }).statusCode === 'number') {
          throw err;
        }
        throw new AppError(
          'validation_failed',
          `the multipart/form-data body could not be read: ${(err as Error).message}`,
        );
      }
    };
    try {
      for (let step = await next(); !step.done; step = await next()) {
        const part = step.value;
        // The ReadStream variant (or any browser form): a file part.
        if (part.type === 'file') return await consume(part.file, cleanFileName(part.filename) ?? headerName);
        // The string variant: a plain field named "file.csv" (or "file").
        if (typeof part.value === 'string' && /^file(\.csv)?$/i.test(part.fieldname)) {
          return await consume(Readable.from([Buffer.from(part.value)]), headerName ?? part.fieldname);
        }
      }
    } finally {
      // As a for-await loop would: let the parser finish with the rest of the body.
      await parts.return?.(undefined).catch(() => {});
    }
    throw new AppError(
      'validation_failed',
      'the multipart body has no CSV: send a file part, or a field named "file.csv" holding the CSV text',
      [{ field: 'file.csv', message: 'missing' }],
    );
  }
  const raw = request.body as unknown;
  if (!raw || typeof (raw as AsyncIterable<Buffer>)[Symbol.asyncIterator] !== 'function') {
    throw new AppError(
      'unsupported_media_type',
      'send the CSV as text/csv or application/octet-stream, or as multipart/form-data with a part "file.csv"',
    );
  }
  return await consume(raw as AsyncIterable<Buffer>, headerName);
}

/** Reads a (small) CSV upload whole, refusing one larger than `maxBytes` with 413. */
export async function readCsvUpload(
  request: FastifyRequest,
  maxBytes: number,
): Promise<{ text: Buffer; fileName: string | null }> {
  return withCsvUpload(request, async (body, fileName) => {
    const pieces: Buffer[] = [];
    let size = 0;
    let tooLarge = false;
    for await (const piece of body) {
      if (tooLarge) continue; // drain what the client still sends
      const buf = typeof piece === 'string' ? Buffer.from(piece) : piece;
      size += buf.length;
      if (size > maxBytes) {
        tooLarge = true;
        pieces.length = 0;
        continue;
      }
      pieces.push(buf);
    }
    if (tooLarge)
      throw new AppError('body_too_large', `the file is larger than the limit of ${maxBytes} bytes`);
    return { text: Buffer.concat(pieces), fileName };
  });
}
