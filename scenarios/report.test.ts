import assert from 'node:assert/strict';
import { test } from 'node:test';
import { buildReport, formatTable } from './report.ts';
import { Checks } from './scenario.ts';

const topology = { kind: 'local', proxy: 'haproxy', adapter: 'redis', replicas: 3, clients: 60 };

test('the report is ok only when every scenario is', () => {
  const pass = { name: 'a', ok: true, metrics: { lost: 0 }, failures: [], durationMs: 10 };
  const fail = { name: 'b', ok: false, metrics: { lost: 2 }, failures: ['lost deliveries: expected 0, got 2'], durationMs: 20 };
  assert.equal(buildReport(topology, [pass]).ok, true);
  const report = buildReport(topology, [pass, fail]);
  assert.equal(report.ok, false);
  // The documented JSON shape.
  const json = JSON.parse(JSON.stringify(report)) as { scenarios: Array<{ name: string; ok: boolean; metrics: object }> };
  assert.deepEqual(
    json.scenarios.map(({ name, ok, metrics }) => ({ name, ok, metrics })),
    [
      { name: 'a', ok: true, metrics: { lost: 0 } },
      { name: 'b', ok: false, metrics: { lost: 2 } },
    ],
  );
});

test('the table shows verdicts, counts, failures and the summary line', () => {
  const table = formatTable(
    buildReport(topology, [
      { name: 'affinity', ok: true, metrics: { mismatches: 0 }, failures: [], durationMs: 1500 },
      { name: 'rooms', ok: false, metrics: { leaked: 1 }, failures: ['room messages received by non-members: expected 0, got 1'], durationMs: 900 },
      { name: 'control', ok: true, metrics: {}, failures: [], durationMs: 0, skipped: 'needs haproxy' },
    ]),
  );
  assert.match(table, /^affinity\s+PASS\s+1\.5s\s+mismatches=0$/m);
  assert.match(table, /^rooms\s+FAIL\s+0\.9s\s+leaked=1$/m);
  assert.match(table, /✗ room messages received by non-members/);
  assert.match(table, /^control\s+SKIP\s+0\.0s\s+needs haproxy$/m);
  assert.match(table, /^1 passed, 1 failed, 1 skipped \(topology=local/m);
});

test('Checks collects every failed expectation', () => {
  const check = new Checks();
  check.equal(0, 0, 'fine');
  check.equal(3, 0, 'lost');
  check.expect(false, 'no spread');
  assert.equal(check.ok, false);
  assert.deepEqual(check.failures, ['lost: expected 0, got 3', 'no spread']);
});
