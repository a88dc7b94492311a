import assert from 'node:assert/strict';
import { test } from 'node:test';
import { LabelTally } from './label-tally.ts';

const drained = (tally: LabelTally): Array<[string, number]> => {
  const out: Array<[string, number]> = [];
  tally.drain((value, n) => out.push([value, n]));
  return out;
};

test('counts per value and hands each total over once', () => {
  const tally = new LabelTally();
  tally.add('broadcast');
  tally.add('welcome');
  tally.add('broadcast');
  tally.add('broadcast', 3);
  assert.deepEqual(drained(tally), [
    ['broadcast', 5],
    ['welcome', 1],
  ]);
  assert.deepEqual(drained(tally), [], 'a drain starts again from zero');
  tally.add('welcome');
  assert.deepEqual(drained(tally), [['welcome', 1]]);
});

test('a value counted zero times is not handed over (no empty label appears)', () => {
  const tally = new LabelTally();
  tally.add('broadcast', 0);
  assert.deepEqual(drained(tally), []);
});
