import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { runCli } from './helpers.js';
import { e2eStandin, heldIds } from './ledger-e2e.js';

describe('ledger sync against a tight rate limit (spawned)', () => {
  it('stays under 60 requests per window on its own and uses most of the allowance', async () => {
    // 60 per 3 s: short enough for a quick test, long enough that even a busy machine reaches the limit.
    const windowMs = 3000;
    const s = await e2eStandin(1500, { rateLimitPerMin: 60, windowMs });
    const r = await runCli(['sync', 'ledger'], {
      env: s.env({ AGENTFLOW_RATE_LIMIT_PER_MIN: '60', AGENTFLOW_RATE_WINDOW_MS: String(windowMs), AGENTFLOW_PAGE_SIZE: '10' }),
    });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(heldIds(s.dbPath).length, 1500);
    const requests = s.standin.requests;
    assert.ok(requests.length >= 150);
    assert.equal(s.standin.countByStatus()[429] ?? 0, 0, 'the client never hit the limit');
    assert.ok(s.standin.maxInAnyWindow(windowMs) <= 60, `saw ${s.standin.maxInAnyWindow(windowMs)} in one window`);
    // Most of the allowance: the client waited only when it had used it. Before every long pause
    // (a pacer pause, not a hiccup of a busy machine), the window just behind held at least 90% of
    // the allowance; the slack covers permits being counted from the answer.
    let pauses = 0;
    for (let j = 1; j < requests.length; j++) {
      const at = (requests[j] as { at: number }).at;
      if (at - (requests[j - 1] as { at: number }).at < 500) continue;
      pauses += 1;
      const behind = requests.filter((q) => q.at < at && q.at >= at - windowMs - 500).length;
      assert.ok(behind >= 54, `request ${j + 1} waited although only ${behind} requests were in the window behind it`);
    }
    assert.ok(pauses >= 1 || s.standin.maxInAnyWindow(windowMs) >= 54, 'the backlog reached the limit');
  });
});
