// Reading an import's CSV: the stored file streamed back from PostgreSQL in chunks, decoded and parsed with
// csv-parse in streaming mode (never the whole file in memory), and DocuSign's header names mapped to fields.
// Problems with the file as a whole are FileErrors: they fail the import before any row is applied.
import { Readable } from 'node:stream';
import { type CsvError, parse } from 'csv-parse';
import type { Db } from '../../db/connection.ts';
import type { ImportOperation } from '../../db/schema.ts';

/** Bytes kept per import_files row. */
export const CHUNK_BYTES = 1024 * 1024;
/** The longest CSV record accepted (a record this long is a broken file, not a person). */
export const MAX_RECORD_BYTES = 1024 * 1024;

export class FileError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'FileError';
  }
}

/** The fields a row can carry, each from one or more header names (compared case- and space-insensitively). */
export type Field =
  | 'account_id'
  | 'account_name'
  | 'first_name'
  | 'last_name'
  | 'user_name'
  | 'email'
  | 'permission_set'
  | 'group'
  | 'job_title'
  | 'company'
  | 'department'
  | 'language'
  | 'auto_activate'
  | 'send_activation'
  | 'api_user_name'
  | 'membership_id'
  | 'login_policy'
  | 'address';

const ALIASES: Record<string, Field> = {
  accountid: 'account_id',
  accountguid: 'account_id',
  accountname: 'account_name',
  firstname: 'first_name',
  lastname: 'last_name',
  username: 'user_name',
  fullname: 'user_name',
  name: 'user_name',
  useremail: 'email',
  email: 'email',
  emailaddress: 'email',
  permissionset: 'permission_set',
  esignpermissionprofile: 'permission_set',
  permissionprofile: 'permission_set',
  permissionprofilename: 'permission_set',
  group: 'group',
  groups: 'group',
  groupname: 'group',
  esigngroup: 'group',
  usertitle: 'job_title',
  jobtitle: 'job_title',
  title: 'job_title',
  companyname: 'company',
  company: 'company',
  department: 'department',
  language: 'language',
  autoactivate: 'auto_activate',
  // Mail a new user an activation link (docs/people-and-sessions.md, "Activation").
  sendactivationemail: 'send_activation',
  sendactivation: 'send_activation',
  apiusername: 'api_user_name',
  userid: 'api_user_name',
  membershipid: 'membership_id',
  loginpolicy: 'login_policy',
  addressline1: 'address',
  addressline2: 'address',
  city: 'address',
  stateregionprovince: 'address',
  postalcode: 'address',
  phone: 'address',
  country: 'address',
};

/** Group columns may repeat ("Group", "Group", …) or be numbered ("Group1", "Group 2", …). */
function normalize(header: string): string {
  return header
    .trim()
    .toLowerCase()
    .replace(/[\s_\-.]/g, '');
}

export function fieldOf(header: string): Field | null {
  const n = normalize(header);
  if (/^(group|groups|groupname|esigngroup)\d+$/.test(n)) return 'group';
  return ALIASES[n] ?? null;
}

export interface ColumnMap {
  /** Field → column index (single-valued fields). */
  one: Partial<Record<Field, number>>;
  /** Group and address columns: every index. */
  groups: number[];
  address: number[];
  /** Headers that name no field; ignored, and reported on the import. */
  invalid: string[];
  width: number;
}

/** Maps the header row for an operation, or throws the FileError DocuSign would name. */
export function mapColumns(header: string[], operation: ImportOperation, accountGiven: boolean): ColumnMap {
  const map: ColumnMap = { one: {}, groups: [], address: [], invalid: [], width: header.length };
  if (header.length === 0 || header.every((h) => h.trim() === '')) {
    throw new FileError('column_headers_missing', 'the file has no header row');
  }
  header.forEach((raw, i) => {
    const field = fieldOf(raw);
    if (field === null) {
      if (raw.trim() !== '') map.invalid.push(raw);
      return;
    }
    if (field === 'group' || field === 'address') {
      (field === 'group' ? map.groups : map.address).push(i);
      return;
    }
    if (map.one[field] !== undefined) {
      throw new FileError('invalid_column_header', `the column "${raw}" appears more than once`);
    }
    map.one[field] = i;
  });
  const has = (f: Field) => map.one[f] !== undefined;
  if (!has('email')) throw new FileError('useremail_column_header_missing', 'a UserEmail column is required');
  if (!accountGiven && !has('account_id')) {
    throw new FileError(
      'column_headers_missing',
      'an AccountID column is required when the request names no account_id',
    );
  }
  if (operation === 'add') {
    if (!has('user_name') && !(has('first_name') && has('last_name'))) {
      throw new FileError(
        'username_column_header_missing',
        'FirstName and LastName columns (or a single UserName column) are required',
      );
    }
    if (!has('permission_set')) {
      throw new FileError(
        'permissionset_column_header_missing',
        'a PermissionSet (or eSignPermissionProfile) column is required',
      );
    }
  }
  if (operation === 'update' && !has('api_user_name')) {
    throw new FileError(
      'apiusername_column_header_missing',
      'an APIUserName column is required to update users',
    );
  }
  if (operation !== 'close' && has('membership_id')) {
    throw new FileError(
      'membership_id_column_header_usage_not_permitted',
      `a MembershipId column is allowed only when closing memberships, not in ${operation}`,
    );
  }
  return map;
}

/** Streams an import's stored file back, one chunk (≈1 MB) per query. */
export async function* storedFile(db: Db, importId: string): AsyncGenerator<Buffer> {
  for (let seq = 0; ; seq++) {
    const row = await db
      .selectFrom('import_files')
      .select('data')
      .where('import_id', '=', importId)
      .where('seq', '=', seq)
      .executeTakeFirst();
    if (!row) return;
    yield row.data;
  }
}

/** Checks bytes as they pass: no NUL (a binary file), valid UTF-8. */
async function* checked(source: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
  const decoder = new TextDecoder('utf-8', { fatal: true });
  let offset = 0;
  for await (const chunk of source) {
    const nul = chunk.indexOf(0);
    if (nul >= 0) {
      throw new FileError(
        'binary_file',
        `the file is binary, not CSV text (a NUL byte at offset ${offset + nul})`,
      );
    }
    try {
      decoder.decode(chunk, { stream: true });
    } catch {
      throw new FileError(
        'invalid_encoding',
        'the file is not UTF-8 text; save it as "CSV UTF-8" and upload it again',
      );
    }
    offset += chunk.length;
    yield chunk;
  }
  try {
    decoder.decode();
  } catch {
    throw new FileError('invalid_encoding', 'the file is not UTF-8 text (it ends inside a character)');
  }
}

function fileErrorOf(err: unknown, headerWidth: () => number): FileError {
  if (err instanceof FileError) return err;
  const e = err as CsvError & { record?: string[]; lines?: number };
  switch (e.code) {
    case 'CSV_RECORD_INCONSISTENT_FIELDS_LENGTH': {
      const got = e.record?.length ?? 0;
      const more = got > headerWidth();
      return new FileError(
        more ? 'extra_row_data_found' : 'insufficient_row_data_found',
        `line ${e.lines}: ${got} fields where the header has ${headerWidth()}`,
      );
    }
    case 'CSV_QUOTE_NOT_CLOSED':
      return new FileError(
        'invalid_csv_data_or_syntax',
        `a quoted field opened near line ${e.lines} is never closed`,
      );
    case 'CSV_MAX_RECORD_SIZE':
      return new FileError(
        'field_too_large',
        `line ${e.lines}: a record longer than ${MAX_RECORD_BYTES} bytes; this is not a user row`,
      );
    default:
      if (typeof e.code === 'string' && e.code.startsWith('CSV_')) {
        return new FileError('invalid_csv_data_or_syntax', e.message);
      }
      throw err;
  }
}

export interface ParsedRow {
  /** 1-based data row number (the header is row 0). */
  row: number;
  fields: string[];
}

/**
 * The file's header and then its data rows, parsed as they stream in. UTF-8 with or without BOM, CRLF or LF,
 * quoted fields with commas, quotes and newlines; blank lines and rows of empty fields are skipped. With
 * `check`, bytes are also checked (binary, UTF-8). Every file-level problem is thrown as a FileError.
 */
export async function* readCsv(
  source: AsyncIterable<Buffer>,
  opts: { check: boolean },
): AsyncGenerator<{ header: string[] } | ParsedRow> {
  const parser = parse({
    bom: true,
    record_delimiter: ['\r\n', '\n'],
    skip_empty_lines: true,
    skip_records_with_empty_values: true,
    max_record_size: MAX_RECORD_BYTES,
  });
  const input = Readable.from(opts.check ? checked(source) : source);
  input.on('error', (err) => parser.destroy(err));
  input.pipe(parser);
  let header: string[] | null = null;
  let row = 0;
  try {
    for await (const record of parser as AsyncIterable<string[]>) {
      if (header === null) {
        header = record;
        yield { header };
        continue;
      }
      row += 1;
      yield { row, fields: record };
    }
  } catch (err) {
    throw fileErrorOf(err, () => header?.length ?? 0);
  } finally {
    input.destroy();
  }
  if (header === null) throw new FileError('column_headers_missing', 'the file is empty');
}
