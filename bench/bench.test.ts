/**
 * Smoke test of the bench, so it cannot rot: a tiny run of every workload
 * against the floor, the single-node baseline, the HAProxy cluster and the
 * Node-cluster peer must
 * finish, write results.json / report.md / charts with numbers where numbers
 * must be, and leave no process behind (Ctrl-C included). It asserts that
 * the bench runs and reports, never how fast anything is.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtemp, readdir, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { REPO_ROOT } from '../scenarios/lib/repo-root.ts';
import { waitFor } from '../scenarios/lib/wait-for.ts';
import { pidsTagged } from '../test/support/run-tag.ts';
import type { BenchResults, C50kRun, IdleRun, LoadRun, StormRun } from './results.ts';

function runBench(args: string[], tag: string) {
  const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', 'bench/cli.ts', ...args], {
    cwd: REPO_ROOT,
    env: { ...process.env, WSK_RUN_ID: tag },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    stdout += chunk.toString();
  });
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  after(async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGINT');
    const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
    await exited;
    clearTimeout(timer);
  });
  return { child, exited, out: () => stdout, err: () => stderr };
}

const positive = (value: number, what: string) => assert.ok(Number.isFinite(value) && value > 0, `${what} should be > 0, got ${value}`);

test('a tiny bench runs every workload, writes the report and leaves nothing running', { timeout: 150_000 }, async () => {
  const tag = randomUUID();
  const out = await mkdtemp(join(tmpdir(), 'wsk-bench-'));
  const args = ['--quick', '--duration', '1', '--warmup', '0.5', '--clients', '30', '--replicas', '2', '--idle', '200'];
  const c50k = ['--c50k', '200', '--c50k-proxies', '2'];
  const run = runBench([...args, ...c50k, '--targets', 'floor,single,haproxy,peer', '--only', 'fanout,rooms,storm,idle,c50k', '--out', out], tag);
  const code = await run.exited;
  assert.equal(code, 0, `exit ${code}\n${run.err().slice(-3000)}`);

  const results = JSON.parse(await readFile(join(out, 'results.json'), 'utf8')) as BenchResults;
  assert.deepEqual(results.failures, []);
  const fanout = results.runs.filter((r): r is LoadRun => r.workload === 'fanout');
  assert.deepEqual(
    fanout.map((r) => r.spec.kind),
    ['floor', 'single', 'local', 'peer'],
  );
  for (const r of fanout) {
    positive(r.delivered, `${r.target} delivered`);
    positive(r.latency.p50, `${r.target} p50`);
    positive(r.latency.p99, `${r.target} p99`);
    assert.ok(r.histogram.length > 0, 'encoded histogram kept');
    assert.ok(r.processes.length > 0 && r.processes.every((p) => p.rssKiB > 0), `${r.target}: memory of every server process`);
    assert.ok(r.generator.some((p) => p.role === 'generator' && p.rssKiB > 0), 'generator processes measured');
  }
  const cluster = fanout[2]!;
  assert.deepEqual(
    [...new Set(cluster.processes.map((p) => p.role))].sort(),
    ['proxy', 'redis', 'replica'],
    'replicas, proxy and Redis are all measured',
  );
  positive(
    cluster.processes.reduce((s, p) => s + p.cpuMs, 0),
    'cluster CPU',
  );
  const peer = fanout[3]!;
  assert.deepEqual(
    peer.processes.map((p) => p.role).sort(),
    ['proxy', 'replica', 'replica'],
    'the peer: its primary and both workers are measured',
  );
  assert.deepEqual(Object.keys(peer.clients.perReplica).sort(), ['peer-1', 'peer-2'], 'both workers took clients');
  positive(
    peer.processes.filter((p) => p.role === 'replica').reduce((s, p) => s + p.cpuMs, 0),
    'peer workers CPU',
  );
  const rooms = results.runs.filter((r): r is LoadRun => r.workload === 'rooms');
  assert.equal(rooms.length, 3);
  for (const r of rooms) positive(r.delivered, `${r.target} room deliveries`);
  const storm = results.runs.find((r): r is StormRun => r.workload === 'storm');
  assert.ok(storm, 'storm ran');
  positive(storm.ok, 'upgraded storm connections');
  positive(storm.welcome.p50, 'storm welcome p50');
  assert.ok(
    results.runs.some((r) => r.workload === 'storm' && r.spec.kind === 'peer' && r.ok > 0),
    'the peer took upgraded storm connections',
  );
  const idle = results.runs.find((r): r is IdleRun => r.workload === 'idle');
  assert.ok(idle, 'idle ran');
  positive(idle.held, 'idle connections held');
  positive(idle.viaProxy, 'idle connections through HAProxy');
  assert.ok(idle.processes.some((p) => p.role === 'proxy' && p.rssAfterKiB > 0));
  const many = results.runs.find((r): r is C50kRun => r.workload === 'c50k');
  assert.ok(many, 'c50k ran');
  assert.equal(many.held, 200, 'c50k: every connection held');
  assert.deepEqual(
    many.perProxy.map((p) => [p.requested, p.connected]),
    [
      [100, 100],
      [100, 100],
    ],
    'c50k: half through each HAProxy',
  );
  const tiers = many.processes.filter((p) => p.role === 'proxy' || p.role === 'replica');
  assert.equal(tiers.length, 4);
  assert.ok(
    tiers.every((p) => p.connections > 0 && p.rssAfterKiB > 0 && p.fdsAfter > p.fdsBefore && p.fdLimit > 0),
    'c50k: memory and descriptors of every HAProxy and replica',
  );
  assert.ok(many.affinity && many.affinity.tried > 0 && many.affinity.sameReplica === many.affinity.tried, JSON.stringify(many.affinity));
  assert.deepEqual(
    (await readdir(join(REPO_ROOT, 'bench/results')).catch(() => [])).filter((name) => name.startsWith('.server-build-')),
    [],
    'the compiled server build is removed',
  );

  const report = await readFile(join(out, 'report.md'), 'utf8');
  for (const heading of ['## Ratios', '## Fan-out', '## Rooms', '## Connection storm', '## Idle capacity', '## 200 connections through HAProxy (c50k)']) {
    assert.ok(report.includes(heading), `report has ${heading}`);
  }
  assert.match(report, /cross-replica p50 − single-node p50 \(vs single \(no Redis\)\) \| [+-]\d/);
  const files = await readdir(out);
  assert.ok(files.includes('latency-fanout.svg') && files.includes('cpu-per-delivery.svg'), files.join(', '));
  assert.match(run.out(), /## Fan-out/);
  assert.deepEqual(pidsTagged(tag), [], 'processes of the bench still alive');
});

test('the relay floor and the rate sweep run and report their tables', { timeout: 150_000 }, async () => {
  const tag = randomUUID();
  const out = await mkdtemp(join(tmpdir(), 'wsk-bench-'));
  const args = ['--quick', '--duration', '0.5', '--warmup', '0.2', '--clients', '10', '--replicas', '2'];
  const run = runBench([...args, '--targets', 'relay,rates', '--only', 'fanout', '--out', out], tag);
  const code = await run.exited;
  assert.equal(code, 0, `exit ${code}\n${run.err().slice(-3000)}`);
  const results = JSON.parse(await readFile(join(out, 'results.json'), 'utf8')) as BenchResults;
  assert.deepEqual(results.failures, []);
  const fanout = results.runs.filter((r): r is LoadRun => r.workload === 'fanout');
  const relays = fanout.filter((r) => r.spec.kind === 'local' && r.spec.relay !== undefined);
  assert.deepEqual(
    relays.map((r) => (r.spec.kind === 'local' ? r.spec.relay : '')),
    ['node-tcp', 'haproxy-tcp', 'haproxy-http', 'haproxy-http-nbthread1', 'haproxy-http-splice'],
  );
  for (const r of relays) {
    positive(r.delivered, `${r.target} delivered`);
    const proxies = r.processes.filter((p) => p.role === 'proxy');
    assert.equal(proxies.length, 1, `${r.target}: only the relay counts as the proxy`);
    assert.ok(proxies[0]!.rssKiB > 0, `${r.target}: the relay is measured`);
  }
  const swept = fanout.filter((r) => r.variant.startsWith('rate '));
  assert.deepEqual([...new Set(swept.map((r) => r.spec.kind))].sort(), ['local', 'peer', 'single']);
  assert.equal(swept.length, 9);
  for (const r of swept) positive(r.delivered, `${r.target} at ${r.rate}/s delivered`);
  const report = await readFile(join(out, 'report.md'), 'utf8');
  assert.match(report, /## Relay floor\n/);
  assert.match(report, /\| relay: HAProxy mode tcp ×1 \| [\d,]+\/[\d,]+ \| [\d,]+ \|/);
  assert.match(report, /## Latency against load\n/);
  assert.ok((await readdir(out)).includes('latency-vs-load.svg'));
  assert.deepEqual(pidsTagged(tag), [], 'processes of the bench still alive');
});

test('Ctrl-C in the middle of a bench stops every process it started', { timeout: 60_000 }, async () => {
  const tag = randomUUID();
  const out = await mkdtemp(join(tmpdir(), 'wsk-bench-'));
  const run = runBench(['--quick', '--duration', '20', '--clients', '20', '--replicas', '2', '--targets', 'haproxy', '--only', 'fanout', '--out', out], tag);
  await waitFor(() => /clients in \d+ ms/.test(run.err()) || run.child.exitCode !== null, {
    what: 'the bench to connect its clients',
    timeoutMs: 40_000,
  });
  assert.ok(pidsTagged(tag).length >= 5, 'generator workers, redis, replicas and haproxy should be running');
  run.child.kill('SIGINT');
  assert.equal(await run.exited, 130, run.err().slice(-2000));
  assert.deepEqual(pidsTagged(tag), [], 'processes of the bench still alive after Ctrl-C');
});
