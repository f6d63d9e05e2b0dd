// The one CSV writer: every CSV Signet produces (import results, user and settings exports, the audit log)
// is written here, so every cell gets the CSV injection defence (OWASP "CSV Injection"): a cell a
// spreadsheet would read as a formula (=, +, -, @, tab, carriage return first) gets a leading single quote,
// so the data is shown, never executed. That includes cells Signet only echoes (an uploaded file's own
// header and rows in an import's results).
import { Readable } from 'node:stream';
import { stringify as stringifyStream } from 'csv-stringify';
import { stringify } from 'csv-stringify/sync';

const FORMULA_START = /^[=+\-@\t\r]/;

export function neutralizeFormula(value: unknown): string {
  if (value === null || value === undefined) return '';
  const s =
    value instanceof Date
      ? value.toISOString()
      : typeof value === 'object'
        ? JSON.stringify(value)
        : String(value);
  return FORMULA_START.test(s) ? `'${s}` : s;
}

/**
 * A cell of an uploaded CSV as it was before neutralizeFormula: the single quote our own exports put before a
 * formula-like cell is dropped, so a file exported from Signet imports back to the same values.
 */
export function restoreFormula(cell: string): string {
  return cell.startsWith("'") && FORMULA_START.test(cell.slice(1)) ? cell.slice(1) : cell;
}

export type CsvRow = readonly unknown[];

/** Rows as CSV text (each line ends in a newline), every cell made safe. */
export function csvText(rows: readonly CsvRow[]): string {
  return stringify(rows.map((row) => row.map(neutralizeFormula)));
}

/**
 * A streamed CSV document, every cell made safe: a UTF-8 BOM first when asked (spreadsheets then read the
 * file as UTF-8), then the rows as `rows` yields them. An error of `rows` ends the stream with that error.
 */
export function csvStream(
  rows: AsyncIterable<CsvRow> | Iterable<CsvRow>,
  opts: { bom?: boolean } = {},
): Readable {
  const out = stringifyStream({ bom: opts.bom ?? false });
  const source = Readable.from(
    (async function* () {
      for await (const row of rows) yield row.map(neutralizeFormula);
    })(),
  );
  source.on('error', (err) => out.destroy(err));
  return source.pipe(out);
}
