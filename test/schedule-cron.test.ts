/** The pure scheduler: fire times, periods, daily windows and catch-up, all with the time passed in. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { dailyWindowFor, missedDailyWindows, runCatchUpDue } from '../src/ops/catchup.js';
import { firesBetween, nextFire, parseSchedule, periodMs, previousFire } from '../src/ops/cron.js';
import { localDayBounds, localToInstant } from '../src/ops/tz.js';

const t = (s: string) => Date.parse(s);
const isoList = (xs: number[]) => xs.map((x) => new Date(x).toISOString());

describe('fire times', () => {
  it('fires the default schedules at the right times over an hour (UTC)', () => {
    const from = t('2026-12-04T05:30:00Z');
    const to = t('2026-12-04T06:30:00Z');
    const ledger = firesBetween(parseSchedule('*/5 * * * *', 'UTC'), from, to);
    const run = firesBetween(parseSchedule('*/15 * * * *', 'UTC'), from, to);
    const daily = firesBetween(parseSchedule('0 6 * * *', 'UTC'), from, to);
    assert.equal(ledger.length, 12);
    assert.equal(isoList(ledger)[0], '2026-12-04T05:35:00.000Z');
    assert.deepEqual(isoList(run), ['2026-12-04T05:45:00.000Z', '2026-12-04T06:00:00.000Z', '2026-12-04T06:15:00.000Z', '2026-12-04T06:30:00.000Z']);
    assert.deepEqual(isoList(daily), ['2026-12-04T06:00:00.000Z']);
  });

  it('reads the schedule in the configured zone', () => {
    const s = parseSchedule('0 6 * * *', 'America/New_York');
    assert.deepEqual(isoList(firesBetween(s, t('2026-12-04T00:00:00Z'), t('2026-12-05T00:00:00Z'))), ['2026-12-04T11:00:00.000Z']);
    assert.equal(new Date(nextFire(s, t('2026-12-04T11:00:00Z')) as number).toISOString(), '2026-12-05T11:00:00.000Z');
    assert.equal(new Date(previousFire(s, t('2026-12-04T10:59:59Z')) as number).toISOString(), '2026-12-03T11:00:00.000Z');
  });

  it('handles six-field (seconds) expressions', () => {
    const s = parseSchedule('*/2 * * * * *', 'UTC');
    assert.equal(firesBetween(s, t('2026-12-04T10:00:00Z'), t('2026-12-04T10:00:10Z')).length, 5);
    assert.equal(periodMs(s, t('2026-12-04T10:00:05Z')), 2000);
    assert.equal(periodMs(parseSchedule('*/5 * * * *', 'UTC'), t('2026-12-04T10:07:00Z')), 300_000);
  });

  it('fires a wall time skipped by DST once, shifted past the gap, and a repeated one once', () => {
    const s = parseSchedule('30 2 * * *', 'Europe/Berlin');
    // 2026-03-29: 02:00 CET jumps to 03:00 CEST. 2026-10-25: 03:00 CEST falls back to 02:00 CET.
    const spring = isoList(firesBetween(s, t('2026-03-28T00:00:00Z'), t('2026-03-31T00:00:00Z')));
    assert.deepEqual(spring, ['2026-03-28T01:30:00.000Z', '2026-03-29T01:30:00.000Z', '2026-03-30T00:30:00.000Z']);
    const autumn = isoList(firesBetween(s, t('2026-10-24T00:00:00Z'), t('2026-10-27T00:00:00Z')));
    assert.deepEqual(autumn, ['2026-10-24T00:30:00.000Z', '2026-10-25T00:30:00.000Z', '2026-10-26T01:30:00.000Z']);
    // Every-15-minutes across the repeated hour: the repeated wall times fire once each.
    const q = firesBetween(parseSchedule('*/15 * * * *', 'Europe/Berlin'), t('2026-10-25T00:00:00Z'), t('2026-10-25T02:00:00Z'));
    assert.equal(new Set(q).size, q.length);
  });

  it('maps local wall times to instants at DST edges', () => {
    assert.equal(new Date(localToInstant({ year: 2026, month: 10, day: 25, hour: 2, minute: 30, second: 0 }, 'Europe/Berlin')).toISOString(), '2026-10-25T00:30:00.000Z');
    const spring = localDayBounds('2026-03-29', 'Europe/Berlin');
    const autumn = localDayBounds('2026-10-25', 'Europe/Berlin');
    assert.equal(spring.to - spring.from, 23 * 3_600_000);
    assert.equal(autumn.to - autumn.from, 25 * 3_600_000);
  });
});

describe('daily windows', () => {
  it('reports on the local day before the fire', () => {
    const s = parseSchedule('0 6 * * *', 'Europe/Berlin');
    const w = dailyWindowFor(s, t('2026-12-04T05:00:00Z'));
    assert.deepEqual(w, { date: '2026-12-03', from: '2026-12-02T23:00:00.000Z', to: '2026-12-03T23:00:00.000Z' });
  });

  for (const [zone, expr, from, to, expected] of [
    ['Europe/Berlin', '30 2 * * *', '2026-03-26T12:00:00Z', '2026-04-01T12:00:00Z', ['2026-03-26', '2026-03-27', '2026-03-28', '2026-03-29', '2026-03-30', '2026-03-31']],
    ['Europe/Berlin', '30 2 * * *', '2026-10-22T12:00:00Z', '2026-10-28T12:00:00Z', ['2026-10-22', '2026-10-23', '2026-10-24', '2026-10-25', '2026-10-26', '2026-10-27']],
    ['America/New_York', '0 1-3 * * *', '2026-10-30T12:00:00Z', '2026-11-03T12:00:00Z', ['2026-10-30', '2026-10-31', '2026-11-01', '2026-11-02']],
    ['America/New_York', '30 2 * * *', '2026-03-06T12:00:00Z', '2026-03-10T12:00:00Z', ['2026-03-06', '2026-03-07', '2026-03-08', '2026-03-09']],
  ] as const) {
    it(`neither skips nor doubles a window across DST (${zone}, "${expr}")`, () => {
      const s = parseSchedule(expr, zone);
      // Done up to the window before `from`'s local day; `to` is after that day's fire.
      const before = dailyWindowFor(s, t(from));
      const { windows } = missedDailyWindows(s, t(to), { lastDoneTo: before.to, doneDates: new Set([before.date]) });
      const dates = windows.map((w) => w.date);
      assert.equal(new Set(dates).size, dates.length, 'no window twice');
      for (let i = 1; i < windows.length; i++) {
        assert.equal(windows[i - 1]?.to, windows[i]?.from, `windows ${dates[i - 1]} and ${dates[i]} are contiguous`);
      }
      assert.deepEqual(dates, expected);
    });
  }

  it('catches up a gap of three periods: each missed window once, oldest first, then nothing', () => {
    const s = parseSchedule('0 6 * * *', 'Europe/Berlin');
    const done = new Set(['2026-12-01']);
    const lastDoneTo = dailyWindowFor(s, t('2026-12-02T05:00:00Z')).to;
    const now = t('2026-12-05T09:00:00Z'); // fires on the 3rd, 4th and 5th were missed
    const first = missedDailyWindows(s, now, { lastDoneTo, doneDates: done });
    assert.deepEqual(first.windows.map((w) => w.date), ['2026-12-02', '2026-12-03', '2026-12-04']);
    for (const w of first.windows) done.add(w.date);
    const again = missedDailyWindows(s, now, { lastDoneTo: first.windows.at(-1)?.to ?? null, doneDates: done });
    assert.deepEqual(again.windows, []);
  });

  it('owes only the latest window on a fresh install, and caps a very long gap', () => {
    const s = parseSchedule('0 6 * * *', 'UTC');
    assert.deepEqual(missedDailyWindows(s, t('2026-12-05T07:00:00Z'), { lastDoneTo: null, doneDates: new Set() }).windows.map((w) => w.date), ['2026-12-04']);
    const long = missedDailyWindows(s, t('2026-12-05T07:00:00Z'), { lastDoneTo: '2026-01-01T00:00:00.000Z', doneDates: new Set() }, 10);
    assert.equal(long.windows.length, 10);
    assert.equal(long.windows.at(-1)?.date, '2026-12-04');
    assert.ok(long.dropped > 300);
  });

  it('owes a catch-up run only when the last success is older than the period', () => {
    const s = parseSchedule('*/15 * * * *', 'UTC');
    const now = t('2026-12-04T10:07:00Z');
    assert.equal(runCatchUpDue(s, now, null), true);
    assert.equal(runCatchUpDue(s, now, '2026-12-04T09:55:00.000Z'), false);
    assert.equal(runCatchUpDue(s, now, '2026-12-04T09:15:00.000Z'), true);
  });
});
