import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { generateMalformedCases, MALFORMED_CATEGORIES, packetsIn, seededRandom } from './malformed-packets.ts';

describe('generateMalformedCases', () => {
  it('makes at least 1,000 cases by default, every category on both transports', () => {
    const cases = generateMalformedCases({ seed: 1 });
    assert.ok(cases.length >= 1000, `${cases.length} cases`);
    for (const category of MALFORMED_CATEGORIES) {
      for (const transport of ['websocket', 'polling'] as const) {
        const some = cases.filter((c) => c.category === category && c.transport === transport);
        assert.ok(some.length >= 40, `${category} over ${transport}: ${some.length}`);
      }
    }
    assert.ok(cases.reduce((sum, c) => sum + packetsIn(c), 0) >= 1000);
    assert.deepEqual(
      cases.map((c) => c.index),
      cases.map((_, i) => i),
    );
  });

  it('is deterministic for a seed and differs between seeds', () => {
    assert.deepEqual(generateMalformedCases({ seed: 42, count: 300 }), generateMalformedCases({ seed: 42, count: 300 }));
    assert.notDeepEqual(generateMalformedCases({ seed: 42, count: 300 }), generateMalformedCases({ seed: 43, count: 300 }));
  });

  it('varies within a category (a generator, not a fixed list)', () => {
    const cases = generateMalformedCases({ seed: 7 });
    for (const category of MALFORMED_CATEGORIES) {
      const distinct = new Set(cases.filter((c) => c.category === category).map((c) => JSON.stringify([c.query, c.frames])));
      assert.ok(distinct.size >= 8, `${category}: only ${distinct.size} distinct cases`);
    }
  });

  it('contains what each category promises', () => {
    const cases = generateMalformedCases({ seed: 3 });
    const of = (category: string) => cases.filter((c) => c.category === category);
    const texts = (category: string) => of(category).flatMap((c) => c.frames.filter((f): f is string => typeof f === 'string'));
    assert.ok(of('wrong-eio').every((c) => !c.handshake && !/^EIO=4&transport=(websocket|polling)$/.test(c.query)));
    assert.ok(of('forged-sid').every((c) => /sid=/.test(c.query) && !c.query.endsWith('sid={sid}')));
    assert.ok(texts('wrong-namespace').every((f) => /^4\d{1,2}\//.test(f)));
    assert.ok(texts('bad-binary').some((f) => /^45\d+-/.test(f)));
    assert.ok(of('bad-binary').some((c) => c.transport === 'websocket' && c.frames.some((f) => f instanceof Uint8Array)));
    assert.ok(texts('huge-ack-id').some((f) => /^4[23]\d{16,}/.test(f)));
    assert.ok(of('binary-frame').every((c) => c.frames.every((f) => f instanceof Uint8Array)));
    assert.ok(of('invalid-utf8').every((c) => c.frames.every((f) => typeof f === 'object' && 'rawText' in f)));
    assert.ok(texts('hostile-args').some((f) => f.includes('__proto__')));
  });

  it('refuses a count too small to cover every category on both transports', () => {
    assert.throws(() => generateMalformedCases({ seed: 1, count: 10 }), RangeError);
  });
});

describe('seededRandom', () => {
  it('repeats its sequence for a seed and stays in [0, 1)', () => {
    const a = seededRandom(99);
    const b = seededRandom(99);
    const values = Array.from({ length: 1000 }, () => a());
    assert.deepEqual(values, Array.from({ length: 1000 }, () => b()));
    assert.ok(values.every((v) => v >= 0 && v < 1));
    assert.ok(new Set(values).size > 990);
  });
});
