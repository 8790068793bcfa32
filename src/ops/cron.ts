/**
 * The pure half of scheduling: when a cron expression fires in a time zone.
 * node-cron does the live triggering; this module answers "what should have
 * fired between A and B", which catch-up, periods and tests need, with the
 * time always passed in.
 *
 * Expressions are node-cron's (5 fields, or 6 with seconds first; day of
 * month AND day of week must both match, as node-cron does). DST: a wall time
 * repeated when clocks go back fires once (its first occurrence); a wall time
 * skipped when clocks go forward fires once, shifted forward by the gap.
 */
import cron from 'node-cron';
import { FlowreconError } from '../errors.js';
import { localToInstant, offsetMs } from './tz.js';

export interface Schedule {
  readonly expression: string;
  readonly timeZone: string;
  readonly seconds: readonly number[];
  readonly minutes: readonly number[];
  readonly hours: readonly number[];
  readonly daysOfMonth: readonly (number | string)[];
  readonly months: readonly number[];
  readonly daysOfWeek: readonly (number | string)[];
}

export function parseSchedule(expression: string, timeZone: string, setting = 'schedule'): Schedule {
  if (!cron.validate(expression)) throw new FlowreconError('CONFIG', `invalid setting ${setting}: "${expression}" is not a cron expression`);
  const f = cron.parse(expression);
  const asc = (xs: number[]) => [...new Set(xs)].sort((a, b) => a - b);
  return Object.freeze({
    expression,
    timeZone,
    seconds: asc(f.second),
    minutes: asc(f.minute),
    hours: asc(f.hour),
    daysOfMonth: f.dayOfMonth,
    months: f.month,
    daysOfWeek: f.dayOfWeek,
  });
}

const DAY_MS = 86_400_000;
const HOUR_MS = 3_600_000;
/** Wider than any real DST shift, so pruning by approximate times never drops a fire. */
const MARGIN_MS = 3 * HOUR_MS;

function dayMatches(s: Schedule, year: number, month: number, day: number): boolean {
  if (!s.months.includes(month)) return false;
  const last = new Date(Date.UTC(year, month, 0)).getUTCDate();
  const dom = s.daysOfMonth.some((v) => v === day || (v === 'L' && day === last));
  if (!dom) return false;
  const weekday = new Date(Date.UTC(year, month - 1, day)).getUTCDay();
  return s.daysOfWeek.some((v) => v === weekday || (v === 7 && weekday === 0));
}

/** Fire instants (ms) in (afterMs, untilMs], ascending, at most `limit`. */
export function firesBetween(s: Schedule, afterMs: number, untilMs: number, limit = 100_000): number[] {
  const out = new Set<number>();
  if (untilMs <= afterMs) return [];
  // Walk local calendar dates; a UTC date +-1 covers every zone's local date.
  const first = new Date(afterMs - DAY_MS);
  let y = first.getUTCFullYear();
  let m = first.getUTCMonth() + 1;
  let d = first.getUTCDate();
  for (;;) {
    const dayApprox = Date.UTC(y, m - 1, d);
    if (dayApprox - 2 * DAY_MS > untilMs) break;
    if (dayApprox + 2 * DAY_MS >= afterMs && dayMatches(s, y, m, d)) {
      // Off DST-change days the offset is one constant: plain arithmetic, exact.
      const before = offsetMs(dayApprox - 14 * HOUR_MS, s.timeZone);
      const steady = before === offsetMs(dayApprox + DAY_MS + 14 * HOUR_MS, s.timeZone);
      const margin = steady ? 0 : MARGIN_MS;
      for (const hour of s.hours) {
        const hourStart = Date.UTC(y, m - 1, d, hour) - before;
        if (hourStart + HOUR_MS + margin <= afterMs || hourStart - margin > untilMs) continue;
        for (const minute of s.minutes) {
          const minuteStart = hourStart + minute * 60_000;
          if (minuteStart + 60_000 + margin <= afterMs || minuteStart - margin > untilMs) continue;
          for (const second of s.seconds) {
            const t = steady
              ? minuteStart + second * 1000
              : localToInstant({ year: y, month: m, day: d, hour, minute, second }, s.timeZone);
            if (t > afterMs && t <= untilMs) out.add(t);
          }
        }
      }
    }
    if (out.size >= limit) break;
    const next = new Date(Date.UTC(y, m - 1, d + 1));
    y = next.getUTCFullYear();
    m = next.getUTCMonth() + 1;
    d = next.getUTCDate();
  }
  return [...out].sort((a, b) => a - b).slice(0, limit);
}

const SEARCH_SPANS = [60_000, HOUR_MS, DAY_MS, 8 * DAY_MS, 32 * DAY_MS, 367 * DAY_MS, 4 * 367 * DAY_MS];

/** The last fire at or before `nowMs`, or null if none within four years. */
export function previousFire(s: Schedule, nowMs: number): number | null {
  for (const span of SEARCH_SPANS) {
    const fires = firesBetween(s, nowMs - span, nowMs);
    if (fires.length > 0) return fires[fires.length - 1] ?? null;
  }
  return null;
}

/** The first fire strictly after `nowMs`, or null if none within four years. */
export function nextFire(s: Schedule, nowMs: number): number | null {
  for (const span of SEARCH_SPANS) {
    const fires = firesBetween(s, nowMs, nowMs + span, 1);
    if (fires.length > 0) return fires[0] ?? null;
  }
  return null;
}

/** The schedule's period around `nowMs`: the gap between the last fire and the one after it. */
export function periodMs(s: Schedule, nowMs: number): number {
  const prev = previousFire(s, nowMs) ?? nowMs;
  const next = nextFire(s, prev);
  return next === null ? DAY_MS : next - prev;
}
