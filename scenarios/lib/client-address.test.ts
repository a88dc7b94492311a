import assert from 'node:assert/strict';
import { test } from 'node:test';
import { clientSourceAddress } from './client-address.ts';

test('every client gets its own /24, outside 127.0.x.x', () => {
  const prefixes = new Set<string>();
  for (let i = 0; i < 1000; i++) {
    const address = clientSourceAddress(i);
    assert.match(address, /^127\.\d+\.\d+\.1$/);
    assert.ok(!address.startsWith('127.0.'), address);
    prefixes.add(address.split('.').slice(0, 3).join('.'));
  }
  assert.equal(prefixes.size, 1000);
  assert.equal(clientSourceAddress(0), '127.2.1.1');
  assert.equal(clientSourceAddress(250), '127.3.1.1');
  assert.throws(() => clientSourceAddress(-1), RangeError);
});
