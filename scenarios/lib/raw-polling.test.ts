import assert from 'node:assert/strict';
import { test } from 'node:test';
import { cookieHeader, decodePollingPayload, isSessionUnknown } from './raw-polling.ts';

test('cookieHeader keeps only name=value pairs', () => {
  assert.equal(cookieHeader(['WSKSRV=abc123; path=/', 'other=1; HttpOnly']), 'WSKSRV=abc123; other=1');
  assert.equal(cookieHeader([]), undefined);
});

test('polling payloads split on the record separator', () => {
  assert.deepEqual(decodePollingPayload('40{"sid":"x"}\x1e42["welcome",{}]'), ['40{"sid":"x"}', '42["welcome",{}]']);
  assert.deepEqual(decodePollingPayload(''), []);
});

test('"Session ID unknown" is engine.io\'s 400 with code 1', () => {
  assert.equal(isSessionUnknown({ status: 400, body: '{"code":1,"message":"Session ID unknown"}', setCookie: [] }), true);
  assert.equal(isSessionUnknown({ status: 400, body: '{"code":3,"message":"Bad request"}', setCookie: [] }), false);
  assert.equal(isSessionUnknown({ status: 200, body: 'ok', setCookie: [] }), false);
});
