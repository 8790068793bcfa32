import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Redactor } from '../src/secrets.js';
import { memoryLogger } from './helpers.js';

test('a secret is masked wherever it lands in a log line, even inside nested errors', () => {
  const redactor = new Redactor();
  redactor.add('af_canary_Zq9"x');
  const { log, text } = memoryLogger(redactor);
  const err = Object.assign(new Error('request failed with cookie af_session=af_canary_Zq9"x'), {
    request: { headers: { cookie: 'af_session=af_canary_Zq9"x', authorization: 'Bearer af_canary_Zq9"x' } },
  });
  log.error({ err, url: 'https://x/?t=af_canary_Zq9"x', headers: { cookie: 'af_canary_Zq9"x' } }, 'boom');
  log.info({ deep: { a: { b: { c: ['af_canary_Zq9"x'] } } } }, 'nested');
  const out = text();
  assert.ok(out.length > 0);
  assert.ok(!out.includes('af_canary_Zq9'), out);
  assert.match(out, /\[REDACTED\]/);
});
