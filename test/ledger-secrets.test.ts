import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { runCli, type CliResult } from './helpers.js';
import { CANARY_COOKIE, CANARY_FILE_COOKIE, CANARY_KEY, dumpDb, e2eStandin, everyFileText } from './ledger-e2e.js';

const CANARIES = [CANARY_COOKIE, CANARY_FILE_COOKIE, CANARY_KEY];

function assertNoSecrets(where: string, text: string): void {
  for (const c of CANARIES) assert.ok(!text.includes(c), `${where} contains the secret ${c}`);
}
const output = (r: CliResult) => `${r.stdout}\n${r.stderr}`;

describe('ledger settings and secrets (spawned)', () => {
  it('stops on bad settings with exit 2 naming the variable, before any request', async () => {
    const s = await e2eStandin(50);
    const cases: [Record<string, string | undefined>, RegExp][] = [
      [{ AGENTFLOW_RATE_LIMIT_PER_MIN: 'lots' }, /AGENTFLOW_RATE_LIMIT_PER_MIN/],
      [{ AGENTFLOW_BASE_URL: 'ftp://example.com' }, /AGENTFLOW_BASE_URL/],
      [{ AGENTFLOW_SESSION: undefined }, /AGENTFLOW_SESSION/],
      [{ AGENTFLOW_SESSION: undefined, AGENTFLOW_SESSION_FILE: join(s.dir, 'missing-session') }, /AGENTFLOW_SESSION_FILE/],
    ];
    const results = await Promise.all(cases.map(([extra]) => runCli(['sync', 'ledger'], { env: s.env(extra) })));
    results.forEach((r, i) => {
      assert.equal(r.code, 2, `case ${i}: ${r.stderr}`);
      assert.match(r.stderr, (cases[i] as [unknown, RegExp])[1]);
    });
    assert.equal(s.standin.requests.length, 0);
    const usage = await runCli(['sync', 'ledger', '--since', '2026-01-01'], { env: s.env() });
    assert.equal(usage.code, 2);
  });

  it('never lets the session file content or the API key out, through retries, logs and failures', async () => {
    const s = await e2eStandin(600, { faults: { fail503Next: 2, dropNext: 1 } });
    const sessionFile = join(s.dir, 'af-session');
    writeFileSync(sessionFile, `${CANARY_FILE_COOKIE}\n`, { mode: 0o600 });
    const viaFile = await runCli(['sync', 'ledger', '--json'], {
      env: s.env({ AGENTFLOW_SESSION: undefined, AGENTFLOW_SESSION_FILE: sessionFile, LOG_LEVEL: 'debug', AGENTFLOW_PAGE_SIZE: '100' }),
    });
    assert.equal(viaFile.code, 0, viaFile.stderr);
    assert.match(viaFile.stderr, /retrying/, 'the retries were logged');
    assertNoSecrets('session-file run output', output(viaFile));

    s.standin.setFaults({ fail503Next: 1 });
    const viaKey = await runCli(['sync', 'ledger'], { env: s.env({ AGENTFLOW_API_KEY: CANARY_KEY, LOG_LEVEL: 'debug' }) });
    assert.equal(viaKey.code, 0, viaKey.stderr);
    assertNoSecrets('api-key run output', output(viaKey));

    // The file's cookie revoked: the failure message must not quote it either.
    s.standin.setSessions([CANARY_COOKIE]);
    const revoked = await runCli(['sync', 'ledger'], { env: s.env({ AGENTFLOW_SESSION: undefined, AGENTFLOW_SESSION_FILE: sessionFile }) });
    assert.equal(revoked.code, 1);
    assertNoSecrets('revoked run output', output(revoked));

    const dump = JSON.stringify(dumpDb(s.dbPath));
    assertNoSecrets('the database dump', dump);
    // The session file itself holds the secret by design; every other file must not.
    writeFileSync(sessionFile, 'x');
    assertNoSecrets('the files written', everyFileText(s.dir));
  });
});
