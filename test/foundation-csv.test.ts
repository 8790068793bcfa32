import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'csv-parse/sync';
import { pathInside, safeCell, writeCsvFile } from '../src/report/csv.js';
import { tempDir } from './helpers.js';

test('formula-looking text is neutralised, plain numbers are not', () => {
  const cases: [string, string][] = [
    ['=HYPERLINK("http://x")', `'=HYPERLINK("http://x")`],
    ['+1+1', `'+1+1`],
    ['-cmd', `'-cmd`],
    ['@SUM(A1)', `'@SUM(A1)`],
    ['\tx', `'\tx`],
    ['\rx', `'\rx`],
    ['\nx', `'\nx`],
    ['\0x', `'\0x`],
    ['  =1', `'  =1`],
    ['\u00a0=1', `'\u00a0=1`],
    ['-3.000000', '-3.000000'],
    ['+12', '+12'],
    ['1.56', '1.56'],
    ['ch_123', 'ch_123'],
    ['a=b', 'a=b'],
  ];
  for (const [input, want] of cases) assert.equal(safeCell(input), want, JSON.stringify(input));
  assert.equal(safeCell(null), '');
});

test('files are RFC 4180 with CRLF, parse back, and appear atomically', async () => {
  const dir = tempDir();
  const path = join(dir, 'out.csv');
  const rows = [
    ['a,b', 'say "hi"'],
    ['multi\nline', '=1+2'],
  ];
  const result = await writeCsvFile(path, ['x', 'y'], rows);
  assert.equal(result.rows, 2);
  const text = readFileSync(path, 'utf8');
  assert.ok(!text.startsWith('\ufeff'), 'no BOM');
  assert.ok(text.endsWith('\r\n'));
  assert.equal(text.split('\r\n')[0], 'x,y');
  const parsed = parse(text, { record_delimiter: '\r\n' }) as string[][];
  assert.deepEqual(parsed, [['x', 'y'], ['a,b', 'say "hi"'], ['multi\nline', `'=1+2`]]);
  assert.deepEqual(readdirSync(dir), ['out.csv'], 'no temp file left behind');
});

test('a failing row source leaves no file behind', async () => {
  const dir = tempDir();
  async function* rows() {
    yield ['1'];
    throw new Error('source broke');
  }
  await assert.rejects(writeCsvFile(join(dir, 'x.csv'), ['a'], rows()), /source broke/);
  assert.deepEqual(readdirSync(dir), []);
});

test('report paths cannot escape the reports directory', () => {
  assert.equal(pathInside('/srv/reports', '2026-12-04/x.csv'), '/srv/reports/2026-12-04/x.csv');
  assert.throws(() => pathInside('/srv/reports', '../etc/passwd'), /outside the reports directory/);
  assert.throws(() => pathInside('/srv/reports', '/etc/passwd'), /outside the reports directory/);
});
