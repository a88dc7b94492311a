import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FanoutTally } from './fanout-tally.ts';

function harness() {
  const observed: Array<[string, number]> = [];
  const scheduled: Array<() => void> = [];
  const tally = new FanoutTally(
    (event, count) => observed.push([event, count]),
    (flush) => scheduled.push(flush),
  );
  return { tally, observed, scheduled };
}

test('one message delivered to three clients is observed once with fan-out 3', () => {
  const { tally, observed, scheduled } = harness();
  const message = { id: 'm1', body: 1 };
  for (let i = 0; i < 3; i++) tally.count('broadcast', message);
  assert.equal(scheduled.length, 1, 'one flush per batch');
  assert.deepEqual(observed, [], 'nothing observed before the flush');
  scheduled[0]!();
  assert.deepEqual(observed, [['broadcast', 3]]);
});

test('messages interleaved or as distinct objects with one id are grouped by id', () => {
  const { tally, observed, scheduled } = harness();
  const m1 = { id: 'm1' };
  const m2 = { id: 'm2' };
  tally.count('broadcast', m1);
  tally.count('room:message', m2);
  tally.count('broadcast', m1);
  tally.count('broadcast', { id: 'm1' });
  tally.count('room:message', m2);
  assert.equal(scheduled.length, 1);
  scheduled[0]!();
  assert.deepEqual(observed, [
    ['broadcast', 3],
    ['room:message', 2],
  ]);
});

test('after a flush the same message object starts a new observation', () => {
  const { tally, observed, scheduled } = harness();
  const message = { id: 'm1' };
  tally.count('broadcast', message);
  scheduled[0]!();
  tally.count('broadcast', message);
  tally.count('broadcast', message);
  assert.equal(scheduled.length, 2);
  scheduled[1]!();
  assert.deepEqual(observed, [
    ['broadcast', 1],
    ['broadcast', 2],
  ]);
});

test('payloads without a string id are not observed', () => {
  const { tally, observed, scheduled } = harness();
  for (const payload of [undefined, null, 'text', { id: 7 }, {}]) tally.count('broadcast', payload);
  assert.equal(scheduled.length, 0);
  assert.deepEqual(observed, []);
});

test('by default the flush runs at the next microtask', async () => {
  const observed: Array<[string, number]> = [];
  const tally = new FanoutTally((event, count) => observed.push([event, count]));
  const message = { id: 'x' };
  tally.count('broadcast', message);
  tally.count('broadcast', message);
  await Promise.resolve();
  assert.deepEqual(observed, [['broadcast', 2]]);
});
