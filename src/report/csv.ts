/**
 * The one CSV writer: RFC 4180 (CRLF records, quotes doubled, fields with a
 * comma, quote or line break quoted), UTF-8 without BOM, a header row, written
 * to a temporary file beside the target and renamed into place so a reader
 * never sees half a file. Rows stream through with backpressure: memory does
 * not grow with the number of rows.
 *
 * Every cell passes `safeCell`: text that a spreadsheet would run as a formula
 * is prefixed with a single quote (CONTRACT 7). Numbers flowrecon formats
 * itself ("-3.000000", "1.56") are plain numbers and pass unchanged.
 */
import { once } from 'node:events';
import { createWriteStream, mkdirSync, renameSync, rmSync } from 'node:fs';
import { dirname, isAbsolute, relative, resolve } from 'node:path';
import { randomBytes } from 'node:crypto';
import { stringify } from 'csv-stringify';
import { FlowreconError } from '../errors.js';

export type Cell = string | number | null | undefined;

const PLAIN_NUMBER = /^[-+]?\d+(\.\d+)?$/;
// Leading blanks (spaces, NBSP and other Unicode spaces) do not hide a formula.
const FORMULA_START = /^[ \u00a0\u1680\u2000-\u200b\u202f\u205f\u3000\ufeff]*[=+\-@\t\r\n\0]/;

export function safeCell(value: Cell): string {
  if (value === null || value === undefined) return '';
  const text = typeof value === 'number' ? String(value) : value;
  if (PLAIN_NUMBER.test(text)) return text;
  return FORMULA_START.test(text) ? `'${text}` : text;
}

export interface CsvWriteResult {
  path: string;
  rows: number;
}

/** Write `rows` under `columns` to `path` atomically. */
export async function writeCsvFile(
  path: string,
  columns: readonly string[],
  rows: Iterable<readonly Cell[]> | AsyncIterable<readonly Cell[]>,
): Promise<CsvWriteResult> {
  mkdirSync(dirname(path), { recursive: true });
  const tmp = `${path}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
  const out = createWriteStream(tmp, { mode: 0o640 });
  await once(out, 'open');
  const csv = stringify({ record_delimiter: '\r\n', bom: false, quoted_match: /[\r\n]/ });
  csv.pipe(out);
  let count = 0;
  try {
    if (!csv.write(columns.map(safeCell))) await once(csv, 'drain');
    for await (const row of rows as AsyncIterable<readonly Cell[]>) {
      if (row.length !== columns.length) {
        throw new FlowreconError('INTERNAL', `CSV row ${count + 1} of ${path} has ${row.length} cells, expected ${columns.length}`);
      }
      count += 1;
      if (!csv.write(row.map(safeCell))) await once(csv, 'drain');
    }
    csv.end();
    await once(out, 'close');
    renameSync(tmp, path);
  } catch (err) {
    csv.unpipe(out);
    csv.destroy();
    if (!out.closed) {
      const closed = new Promise<void>((done) => out.once('close', () => done()));
      out.on('error', () => undefined);
      out.destroy();
      await closed;
    }
    rmSync(tmp, { force: true });
    throw err;
  }
  return { path, rows: count };
}

/** Resolve `rel` under `base`, refusing anything that would land outside it. */
export function pathInside(base: string, rel: string): string {
  const root = resolve(base);
  const target = resolve(root, rel);
  const r = relative(root, target);
  if (r === '' || r.startsWith('..') || isAbsolute(r)) {
    throw new FlowreconError('USAGE', `refusing to write ${rel}: outside the reports directory ${root}`);
  }
  return target;
}
