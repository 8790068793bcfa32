/**
 * What the daemon missed while it was down, decided from the run records and
 * the time passed in (pure). A `daily` window is one local calendar date of
 * the schedule's time zone: the date before the day the daily job fires, so a
 * repeated or skipped wall-clock hour (DST) can neither double nor lose one.
 */
import { firesBetween, periodMs, previousFire, type Schedule } from './cron.js';
import { addDays, localDate, localDayBounds } from './tz.js';

export interface DailyWindow {
  /** The report date, YYYY-MM-DD in the schedule's zone. */
  readonly date: string;
  /** Its bounds as ISO instants: [from, to). */
  readonly from: string;
  readonly to: string;
}

/** The window a daily fire at `fireMs` reports on: the local day before. */
export function dailyWindowFor(s: Schedule, fireMs: number): DailyWindow {
  const date = addDays(localDate(fireMs, s.timeZone), -1);
  const b = localDayBounds(date, s.timeZone);
  return { date, from: new Date(b.from).toISOString(), to: new Date(b.to).toISOString() };
}

/** Upper bound on windows caught up at once (two months of dailies), oldest dropped first. */
export const MAX_CATCHUP_WINDOWS = 62;

/**
 * Daily windows due and not done, oldest first, each once. `lastDoneTo` is
 * the end of the newest window already done (null: none ever, then only the
 * latest due window is owed — a fresh install does not backfill history).
 */
export function missedDailyWindows(
  s: Schedule,
  nowMs: number,
  done: { lastDoneTo: string | null; doneDates: ReadonlySet<string> },
  max = MAX_CATCHUP_WINDOWS,
): { windows: DailyWindow[]; dropped: number } {
  let fires: number[];
  if (done.lastDoneTo === null) {
    const prev = previousFire(s, nowMs);
    fires = prev === null ? [] : [prev];
  } else {
    fires = firesBetween(s, Date.parse(done.lastDoneTo), nowMs);
  }
  const byDate = new Map<string, DailyWindow>();
  let dayEnd = -Infinity; // fires before the end of the last local day seen map to the same window
  for (const fire of fires) {
    if (fire < dayEnd) continue;
    const w = dailyWindowFor(s, fire);
    dayEnd = localDayBounds(addDays(w.date, 1), s.timeZone).to;
    if (!done.doneDates.has(w.date) && !byDate.has(w.date)) byDate.set(w.date, w);
  }
  const windows = [...byDate.values()].sort((a, b) => (a.date < b.date ? -1 : a.date > b.date ? 1 : 0));
  const dropped = Math.max(0, windows.length - max);
  return { windows: windows.slice(dropped), dropped };
}

/** A catch-up `run` is owed when there was never a successful one, or the last is older than the schedule's period. */
export function runCatchUpDue(s: Schedule, nowMs: number, lastSuccessAt: string | null): boolean {
  if (lastSuccessAt === null) return true;
  return nowMs - Date.parse(lastSuccessAt) > periodMs(s, nowMs);
}
