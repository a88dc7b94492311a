import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  CLIENT_EVENTS,
  isAckError,
  MAX_PAYLOAD_BYTES,
  MAX_PAYLOAD_DEPTH,
  MAX_ROOMS_PER_SOCKET,
  nestsDeeperThan,
  payloadBytes,
  validatePayload,
  validateRoom,
} from './protocol.ts';

describe('validatePayload', () => {
  it('accepts any JSON value up to the limit', () => {
    for (const payload of [null, 0, '', 'hello', false, [], { a: [1, { b: 'c' }] }]) {
      assert.deepEqual(validatePayload(payload), { ok: true, value: payload });
    }
    const atLimit = 'x'.repeat(MAX_PAYLOAD_BYTES - 2); // the quotes make up the rest
    assert.equal(payloadBytes(atLimit), MAX_PAYLOAD_BYTES);
    assert.equal(validatePayload(atLimit).ok, true);
  });

  it('refuses a missing payload, a function, and what JSON cannot encode', () => {
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    for (const payload of [undefined, () => 1, cyclic, 10n, Symbol('s')]) {
      const result = validatePayload(payload);
      assert.ok(!result.ok && result.error.code === 'BAD_REQUEST', String(typeof payload));
    }
  });

  it('refuses payloads over the limit with PAYLOAD_TOO_LARGE, counting bytes not characters', () => {
    const result = validatePayload('é'.repeat(MAX_PAYLOAD_BYTES / 2));
    assert.ok(!result.ok);
    assert.equal(result.error.code, 'PAYLOAD_TOO_LARGE');
    assert.match(result.error.message, new RegExp(`limit is ${MAX_PAYLOAD_BYTES}`));
  });
});

describe('payload depth', () => {
  const nested = (depth: number): unknown => JSON.parse(`${'['.repeat(depth)}1${']'.repeat(depth)}`);

  it(`accepts ${MAX_PAYLOAD_DEPTH} levels and refuses one more, arrays and objects alike`, () => {
    assert.equal(validatePayload(nested(MAX_PAYLOAD_DEPTH)).ok, true);
    const refused = validatePayload(nested(MAX_PAYLOAD_DEPTH + 1));
    assert.ok(!refused.ok && refused.error.code === 'BAD_REQUEST' && /nests deeper/.test(refused.error.message));
    let object: unknown = 'leaf';
    for (let i = 0; i <= MAX_PAYLOAD_DEPTH; i++) object = { child: object, sibling: [1, 2] };
    assert.equal(nestsDeeperThan(object, MAX_PAYLOAD_DEPTH), true);
    assert.equal(nestsDeeperThan({ a: [{ b: [] }] }, 4), false);
    assert.equal(nestsDeeperThan({ a: [{ b: [] }] }, 3), true);
  });

  it('answers for any depth without overflowing the stack (a hostile payload of a few KB)', () => {
    const refused = validatePayload(nested(7000));
    assert.ok(!refused.ok && refused.error.code === 'BAD_REQUEST');
  });
});

describe('validateRoom', () => {
  it('accepts short printable names', () => {
    for (const room of ['a', 'lobby', 'team:42', 'a.b-c_d', 'x'.repeat(64)]) {
      assert.deepEqual(validateRoom(room), { ok: true, value: room });
    }
  });

  it('refuses non-strings, empty, too long, and odd characters', () => {
    for (const room of [undefined, null, 1, ['a'], { room: 'a' }, '', 'x'.repeat(65), 'has space', 'semi;colon', 'ünï', 'new\nline']) {
      const result = validateRoom(room);
      assert.ok(!result.ok && result.error.code === 'BAD_REQUEST', JSON.stringify(room));
    }
  });

  it('reserves socket-id-shaped names (20 of A-Z a-z 0-9 - _): FORBIDDEN', () => {
    for (const room of ['AbCdEfGhIjKlMnOpQrSt', 'a-b_c-d_e-f_g-h_i-j_', '01234567890123456789']) {
      const result = validateRoom(room);
      assert.ok(!result.ok && result.error.code === 'FORBIDDEN', room);
    }
    // One character more or less, or one a socket id never has, and it is an ordinary name.
    for (const room of ['AbCdEfGhIjKlMnOpQrS', 'AbCdEfGhIjKlMnOpQrStU', 'AbCdEfGhIjKlMnOpQr.t', 'team:42:AbCdEfGhIjKl']) {
      assert.deepEqual(validateRoom(room), { ok: true, value: room });
    }
  });
});

describe('protocol constants', () => {
  it('lists each client event once', () => {
    assert.equal(new Set(CLIENT_EVENTS).size, CLIENT_EVENTS.length);
    assert.deepEqual([...CLIENT_EVENTS].sort(), ['broadcast', 'cluster:replicas', 'join', 'leave', 'room:emit', 'whoami']);
  });

  it('has sane limits', () => {
    assert.ok(MAX_ROOMS_PER_SOCKET > 0);
    assert.ok(MAX_PAYLOAD_BYTES > 0);
  });

  it('tells error acks from successes', () => {
    assert.equal(isAckError({ ok: true }), false);
    assert.equal(isAckError({ ok: false, error: { code: 'BAD_REQUEST', message: 'x' } }), true);
  });
});
