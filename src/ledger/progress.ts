/**
 * The one-line progress display of a long sync: rewritten in place with `\r`
 * on a terminal's stderr, never written to pipes or under `--json` (the
 * caller decides; this only draws).
 */
export interface ProgressLine {
  update(p: { pages: number; movements: number; inserted: number }): void;
  /** Finish the line so the next output starts on a fresh one. */
  done(): void;
}

export function progressLine(
  stream: { write(text: string): unknown },
  label: string,
  now: () => number = Date.now,
  minIntervalMs = 100,
): ProgressLine {
  const started = now();
  let lastDraw = 0;
  let drawn = false;
  let latest: { pages: number; movements: number; inserted: number } | null = null;
  const draw = (p: { pages: number; movements: number; inserted: number }, t: number) => {
    lastDraw = t;
    drawn = true;
    const seconds = Math.max((t - started) / 1000, 0.001);
    const rate = Math.round(p.movements / seconds);
    stream.write(`\r${label}: ${p.pages} pages, ${p.movements} movements (${p.inserted} new), ${rate}/s\x1b[K`);
  };
  return {
    update(p) {
      latest = p;
      const t = now();
      if (!drawn || t - lastDraw >= minIntervalMs) draw(p, t);
    },
    done() {
      // The last figures may have been skipped by the throttle: show them before moving on.
      if (latest) draw(latest, now());
      if (drawn) stream.write('\n');
      drawn = false;
      latest = null;
    },
  };
}
