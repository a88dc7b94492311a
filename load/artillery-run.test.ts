import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { assertLoopbackTarget, stickinessVerdict } from './artillery-run.ts';

describe('stickinessVerdict', () => {
  const good = {
    'vusers.created': 6,
    'vusers.completed': 6,
    'vusers.failed': 0,
    'wsk.vu.sticky': 6,
    'wsk.messages.received': 120,
    'wsk.replica.replica-1': 3,
    'wsk.replica.replica-2': 3,
  };
  test('every user created, completed and sticky, messages delivered: ok', () => {
    const verdict = stickinessVerdict(good);
    assert.equal(verdict.ok, true, verdict.problems.join('; '));
    assert.deepEqual(verdict.perReplica, { 'replica-1': 3, 'replica-2': 3 });
  });
  test('a moved user, a failed one, silence or an empty run each fail', () => {
    assert.match(stickinessVerdict({ ...good, 'wsk.vu.sticky': 5, 'wsk.vu.moved': 1 }).problems.join(';'), /5 of 6 .*sticky;1 virtual users changed/);
    assert.match(
      stickinessVerdict({ ...good, 'vusers.failed': 2, 'vusers.completed': 4, 'wsk.vu.sticky': 4, 'errors.xhr post error': 2 }).problems[0]!,
      /2 virtual users failed \(xhr post error: 2\)/,
    );
    assert.match(stickinessVerdict({ ...good, 'wsk.messages.received': 0 }).problems.join(';'), /no broadcast/);
    assert.equal(stickinessVerdict({}).ok, false);
  });
});

describe('assertLoopbackTarget', () => {
  test('loopback passes, anything else throws', () => {
    for (const ok of ['http://127.0.0.1:8080', 'http://127.3.4.5:1', 'https://localhost:8443', 'http://[::1]:80']) assertLoopbackTarget(ok);
    for (const bad of ['http://10.0.0.1:8080', 'http://example.com', 'ws://127.0.0.1:1', 'nonsense']) {
      assert.throws(() => assertLoopbackTarget(bad), /loopback|http|URL/, bad);
    }
  });
});
