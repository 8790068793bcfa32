/** Date arguments (CONTRACT 6): ISO dates or timestamps, UTC unless they carry an offset. */
import { FlowreconError } from '../errors.js';

const DATE_ONLY = /^\d{4}-\d{2}-\d{2}$/;
const TIMESTAMP = /^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})?$/i;

/** Parse `text` as given to `option` into an ISO-8601 UTC timestamp. */
export function parseDateArg(text: string, option: string): string {
  const t = text.trim();
  let ms = Number.NaN;
  if (DATE_ONLY.test(t)) ms = Date.parse(`${t}T00:00:00.000Z`);
  else if (TIMESTAMP.test(t)) {
    const hasZone = /(Z|[+-]\d{2}:?\d{2})$/i.test(t);
    ms = Date.parse(hasZone ? t.replace(' ', 'T') : `${t.replace(' ', 'T')}Z`);
  }
  if (Number.isNaN(ms)) {
    throw new FlowreconError('USAGE', `${option}: "${text}" is not an ISO date (2026-12-01) or timestamp (2026-12-01T10:00:00Z)`);
  }
  // Reject impossible calendar dates that Date.parse would roll over (2026-02-30).
  const d = new Date(ms);
  if (DATE_ONLY.test(t) && d.toISOString().slice(0, 10) !== t) {
    throw new FlowreconError('USAGE', `${option}: "${text}" is not a calendar date`);
  }
  return d.toISOString();
}

export function parseWindow(from: string | undefined, to: string | undefined, required: boolean): { from?: string; to?: string } {
  if (required && (from === undefined || to === undefined)) {
    throw new FlowreconError('USAGE', 'both --from and --to are required');
  }
  const window: { from?: string; to?: string } = {};
  if (from !== undefined) window.from = parseDateArg(from, '--from');
  if (to !== undefined) window.to = parseDateArg(to, '--to');
  if (window.from !== undefined && window.to !== undefined && window.from >= window.to) {
    throw new FlowreconError('USAGE', `--from (${window.from}) must be before --to (${window.to})`);
  }
  return window;
}
