/**
 * Wall-clock arithmetic in an IANA time zone, with Intl only (no tz database
 * of our own). Pure: every function takes the instant or the local parts.
 */

export interface LocalParts {
  year: number;
  month: number; // 1..12
  day: number;
  hour: number;
  minute: number;
  second: number;
  weekday: number; // 0 = Sunday
}

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(timeZone: string): Intl.DateTimeFormat {
  let f = formatters.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
      weekday: 'short',
    });
    formatters.set(timeZone, f);
  }
  return f;
}

const WEEKDAYS: Record<string, number> = { Sun: 0, Mon: 1, Tue: 2, Wed: 3, Thu: 4, Fri: 5, Sat: 6 };

export function localParts(instant: Date | number, timeZone: string): LocalParts {
  const out: Record<string, string> = {};
  for (const p of formatter(timeZone).formatToParts(new Date(instant))) out[p.type] = p.value;
  return {
    year: Number(out.year),
    month: Number(out.month),
    day: Number(out.day),
    hour: Number(out.hour),
    minute: Number(out.minute),
    second: Number(out.second),
    weekday: WEEKDAYS[out.weekday ?? 'Sun'] ?? 0,
  };
}

/** Offset of the zone from UTC at `instant`, in ms (Europe/Berlin in summer: +7_200_000). */
export function offsetMs(instant: number, timeZone: string): number {
  const p = localParts(instant, timeZone);
  const asUtc = Date.UTC(p.year, p.month - 1, p.day, p.hour, p.minute, p.second);
  return asUtc - Math.floor(instant / 1000) * 1000;
}

/**
 * The instant a local wall time denotes. An ambiguous time (the repeated hour
 * when clocks go back) is its first occurrence; a time that does not exist
 * (skipped when clocks go forward) is moved forward by the gap, as cron does,
 * so a job set inside the gap still runs that day, once.
 */
export function localToInstant(
  p: { year: number; month: number; day: number; hour: number; minute: number; second: number },
  timeZone: string,
): number {
  const guess = Date.UTC(p.year, p.month - 1, p.day, p.hour, p.minute, p.second);
  // The offset can only be one of the offsets in force a day around the guess.
  const candidates = new Set([offsetMs(guess - 86_400_000, timeZone), offsetMs(guess, timeZone), offsetMs(guess + 86_400_000, timeZone)]);
  const exact = [...candidates].map((o) => guess - o).filter((t) => sameWall(localParts(t, timeZone), p));
  if (exact.length > 0) return Math.min(...exact);
  // In a gap: read the wall time with the offset before the change.
  return guess - offsetMs(guess - 86_400_000, timeZone);
}

function sameWall(a: LocalParts, b: { year: number; month: number; day: number; hour: number; minute: number; second: number }): boolean {
  return a.year === b.year && a.month === b.month && a.day === b.day && a.hour === b.hour && a.minute === b.minute && a.second === b.second;
}

/** `YYYY-MM-DD` of the local calendar date at `instant`. */
export function localDate(instant: Date | number, timeZone: string): string {
  const p = localParts(instant, timeZone);
  return `${p.year}-${String(p.month).padStart(2, '0')}-${String(p.day).padStart(2, '0')}`;
}

/** The calendar date `days` after `date` (YYYY-MM-DD, no zone involved). */
export function addDays(date: string, days: number): string {
  const [y, m, d] = date.split('-').map(Number) as [number, number, number];
  return new Date(Date.UTC(y, m - 1, d + days)).toISOString().slice(0, 10);
}

/** The instants a local calendar date starts and ends at: [from, to). 23 or 25 hours on DST days. */
export function localDayBounds(date: string, timeZone: string): { from: number; to: number } {
  const start = (d: string) => {
    const [y, m, day] = d.split('-').map(Number) as [number, number, number];
    return localToInstant({ year: y, month: m, day, hour: 0, minute: 0, second: 0 }, timeZone);
  };
  return { from: start(date), to: start(addDays(date, 1)) };
}
