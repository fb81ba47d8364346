/**
 * Accounts in Excel: the import template (.xls and .xlsx, fixed header row), reading an
 * uploaded file defensively (format by magic bytes, zip-bomb and size checks before SheetJS
 * sees it, at most 1 000 data rows, formulas never evaluated), turning rows into checked
 * account changes with a reason per bad row, the failure file (the rows plus a "failure
 * reason" column, ready to correct and re-import) and the export (formula-like cells
 * neutralised). SheetJS is the patched build (`npm:@e965/xlsx`).
 */
import XLSX from 'xlsx';
import { isAccountNumber } from '../dial-plan/dial-plan.ts';
import { createError } from '../core/errors.ts';
import { checkEmail } from './account-store.ts';

export const MAX_IMPORT_ROWS = 1000;
export const MAX_UPLOAD_BYTES = 5 * 1024 * 1024;
const MAX_UNZIPPED_BYTES = 50 * 1024 * 1024;
export const HEADER = ['姓名 Name', '账号 Account', '邮箱 E-mail', '密码 Password'] as const;
/** csv only for exports (call records): UTF-8 with a byte-order mark so Excel reads the Chinese headers. */
export type SheetFormat = 'xls' | 'xlsx' | 'csv';

export const CONTENT_TYPES: Record<SheetFormat, string> = {
  xls: 'application/vnd.ms-excel',
  xlsx: 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet',
  csv: 'text/csv; charset=utf-8',
};

export interface ImportRow {
  /** 1-based row number in the sheet (the header is row 1). */
  readonly row: number;
  readonly name: string;
  readonly number: string;
  readonly email: string;
  readonly password: string;
}

export interface RowFailure extends ImportRow {
  readonly reason: string;
}

/** Cells a spreadsheet program could take for a formula get a leading apostrophe. */
export function neutralise(value: string): string {
  return /^[=+\-@\t\r]/.test(value) ? `'${value}` : value;
}

/** Any table as a spreadsheet, text cells neutralised (audit log, call records). */
export function tableSheet(header: readonly string[], rows: readonly (string | number | null)[][], format: SheetFormat, sheetName: string): Buffer {
  return write([[...header], ...rows.map((row) => row.map((cell) => (typeof cell === 'string' ? neutralise(cell) : (cell ?? ''))))], format, sheetName);
}

function write(rows: (string | number)[][], format: SheetFormat, sheetName: string): Buffer {
  const book = XLSX.utils.book_new();
  XLSX.utils.book_append_sheet(book, XLSX.utils.aoa_to_sheet(rows), sheetName);
  if (format === 'csv') return Buffer.concat([Buffer.from('\uFEFF'), Buffer.from(XLSX.write(book, { type: 'string', bookType: 'csv' }) as string, 'utf8')]);
  return XLSX.write(book, { type: 'buffer', bookType: format === 'xls' ? 'biff8' : 'xlsx' }) as Buffer;
}

export function template(format: SheetFormat): Buffer {
  return write([[...HEADER], ['Room East', '1001', 'east@example.com', 'change-me1']], format, 'Accounts');
}

export function exportAccounts(accounts: readonly { number: string; name: string; email: string | null; createdAt: string }[], format: SheetFormat): Buffer {
  return write(
    [['姓名 Name', '账号 Account', '邮箱 E-mail', '创建日期 Created'], ...accounts.map((a) => [neutralise(a.name), a.number, neutralise(a.email ?? ''), a.createdAt.slice(0, 10)])],
    format,
    'Accounts',
  );
}

export function failureFile(failures: readonly RowFailure[], format: SheetFormat): Buffer {
  return write(
    [[...HEADER, '失败原因 Failure reason'], ...failures.map((f) => [neutralise(f.name), f.number, neutralise(f.email), f.password, f.reason])],
    format,
    'Failed rows',
  );
}

/** Sum of the uncompressed sizes in a zip's central directory (for .xlsx), or throws. */
function unzippedSize(data: Buffer): number {
  const end = data.lastIndexOf(Buffer.from([0x50, 0x4b, 0x05, 0x06]));
  if (end < 0 || end + 22 > data.length) throw createError('VCBOX_ERR_SPREADSHEET', { reason: 'the .xlsx file is damaged (no zip directory)' });
  const entries = data.readUInt16LE(end + 10);
  let offset = data.readUInt32LE(end + 16);
  let total = 0;
  for (let i = 0; i < entries; i++) {
    if (offset + 46 > data.length || data.readUInt32LE(offset) !== 0x02014b50) {
      throw createError('VCBOX_ERR_SPREADSHEET', { reason: 'the .xlsx file is damaged (bad zip directory)' });
    }
    total += data.readUInt32LE(offset + 24);
    offset += 46 + data.readUInt16LE(offset + 28) + data.readUInt16LE(offset + 30) + data.readUInt16LE(offset + 32);
  }
  return total;
}

/** Reads an uploaded workbook's first sheet as rows of text; refuses what is not a sane Excel file. */
export function readSheet(data: Buffer): { format: SheetFormat; rows: string[][] } {
  if (data.length === 0) throw createError('VCBOX_ERR_SPREADSHEET', { reason: 'the file is empty' });
  if (data.length > MAX_UPLOAD_BYTES) throw createError('VCBOX_ERR_SPREADSHEET', { reason: `the file is larger than ${MAX_UPLOAD_BYTES / 1024 / 1024} MB` });
  let format: SheetFormat;
  if (data.subarray(0, 4).equals(Buffer.from([0xd0, 0xcf, 0x11, 0xe0]))) format = 'xls';
  else if (data.subarray(0, 4).equals(Buffer.from([0x50, 0x4b, 0x03, 0x04]))) {
    format = 'xlsx';
    const size = unzippedSize(data);
    if (size > MAX_UNZIPPED_BYTES || size > data.length * 200) {
      throw createError('VCBOX_ERR_SPREADSHEET', { reason: `the .xlsx file unpacks to ${Math.round(size / 1024 / 1024)} MB, too much for an account list (a zip bomb?)` });
    }
  } else {
    throw createError('VCBOX_ERR_SPREADSHEET', { reason: 'it is not an Excel file (.xls or .xlsx); download the template and fill it in' });
  }
  let book: XLSX.WorkBook;
  try {
    book = XLSX.read(data, { type: 'buffer', sheetRows: MAX_IMPORT_ROWS + 2, cellFormula: false, cellHTML: false, cellStyles: false, bookVBA: false });
  } catch (error) {
    throw createError('VCBOX_ERR_SPREADSHEET', { reason: `the ${format} file cannot be read (${(error as Error).message})` }, error);
  }
  const sheet = book.Sheets[book.SheetNames[0] ?? ''];
  if (!sheet) throw createError('VCBOX_ERR_SPREADSHEET', { reason: 'the workbook has no sheet' });
  const range = XLSX.utils.decode_range(sheet['!ref'] ?? 'A1');
  // The declared range, not the rows SheetJS was told to read, says how big the sheet is.
  const declared = (sheet['!fullref'] ? XLSX.utils.decode_range(sheet['!fullref']) : range).e.r;
  if (declared > MAX_IMPORT_ROWS) throw createError('VCBOX_ERR_SPREADSHEET', { reason: `it has more than ${MAX_IMPORT_ROWS} data rows; split it into several files` });
  const rows = XLSX.utils.sheet_to_json<string[]>(sheet, { header: 1, raw: false, defval: '', blankrows: false }).map((row) => row.map((cell) => String(cell ?? '').trim()));
  return { format, rows };
}

function rowProblem(row: ImportRow, seen: ReadonlySet<string>, exists: (number: string) => boolean): string | undefined {
  const { name, number, email, password } = row;
  if (name === '' || name.length > 128) return 'the name is required and has at most 128 characters';
  if (!isAccountNumber(number)) return 'the account is exactly 4 digits';
  if (seen.has(number)) return `account ${number} appears twice in this file`;
  const emailProblem = email ? checkEmail(email) : undefined;
  if (emailProblem) return emailProblem;
  if (password === '' && !exists(number)) return 'a new account needs a password';
  if (password !== '' && (password.length < 6 || password.length > 16)) return 'the password has 6 to 16 characters';
  return undefined;
}

/** Checks the header and each row; returns the rows to apply and the failures with reasons. */
export function parseAccountRows(rows: string[][], exists: (number: string) => boolean): { valid: ImportRow[]; failures: RowFailure[] } {
  const header = rows[0] ?? [];
  const expected = HEADER.map((h) => h.split(' ').at(-1)?.toLowerCase());
  const matches = expected.every((name, i) => (header[i] ?? '').toLowerCase().includes(name ?? ''));
  if (!matches) throw createError('VCBOX_ERR_SPREADSHEET', { reason: `the header row must be: ${HEADER.join(' | ')} (download the template)` });
  const valid: ImportRow[] = [];
  const failures: RowFailure[] = [];
  const seen = new Set<string>();
  for (const [index, cells] of rows.slice(1).entries()) {
    const [name = '', number = '', email = '', password = ''] = cells;
    const row: ImportRow = { row: index + 2, name, number, email, password };
    if (name === '' && number === '' && email === '' && password === '') continue;
    const reason = rowProblem(row, seen, exists);
    if (reason) {
      failures.push({ ...row, reason });
    } else {
      seen.add(number);
      valid.push(row);
    }
  }
  return { valid, failures };
}
