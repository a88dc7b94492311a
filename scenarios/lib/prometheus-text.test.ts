import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parsePrometheusText, sumSamples } from './prometheus-text.ts';

const TEXT = `# HELP wsk_events_sent_total Events
# TYPE wsk_events_sent_total counter
wsk_events_sent_total{event="broadcast",replica="r1"} 12
wsk_events_sent_total{event="welcome",replica="r1"} 3

wsk_events_sent_total{replica="r2",event="broadcast"} 30 1700000000000
wsk_broadcast_fanout_bucket{le="+Inf",event="broadcast",replica="r1"} 4
haproxy_server_current_sessions{proxy="replicas",server="replica1"} 7
odd{path="a\\"b\\\\c\\nd"} -1.5e3
process_start_time_seconds 1712345678
nodejs_eventloop_lag_mean_seconds Nan
`;

test('parses names, labels (with escapes), values and skips comments', () => {
  const samples = parsePrometheusText(TEXT);
  assert.equal(samples.length, 8);
  assert.ok(Number.isNaN(samples[7]?.value));
  assert.deepEqual(samples[0], { name: 'wsk_events_sent_total', labels: { event: 'broadcast', replica: 'r1' }, value: 12 });
  assert.deepEqual(samples[5], { name: 'odd', labels: { path: 'a"b\\c\nd' }, value: -1500 });
  assert.deepEqual(samples[6], { name: 'process_start_time_seconds', labels: {}, value: 1712345678 });
  assert.equal(samples[3]?.labels.le, '+Inf');
});

test('sums samples matching a name and a label subset', () => {
  const samples = parsePrometheusText(TEXT);
  assert.equal(sumSamples(samples, 'wsk_events_sent_total'), 45);
  assert.equal(sumSamples(samples, 'wsk_events_sent_total', { event: 'broadcast' }), 42);
  assert.equal(sumSamples(samples, 'wsk_events_sent_total', { event: 'broadcast', replica: 'r2' }), 30);
  assert.equal(sumSamples(samples, 'missing'), 0);
});

test('a malformed line is an error naming the line', () => {
  assert.throws(() => parsePrometheusText('wsk_x{a="b" 1'), /bad label at 12: wsk_x/);
  assert.throws(() => parsePrometheusText('wsk_x oops'), /bad sample value: wsk_x oops/);
  assert.throws(() => parsePrometheusText('{a="b"} 1'), /not a Prometheus sample/);
});
