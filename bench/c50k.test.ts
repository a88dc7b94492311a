import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { haproxyConnectionCap, planC50k } from './c50k.ts';
import { parseBenchArgs, UsageError } from './options.ts';
import { parseNofileSoft } from './proc-stats.ts';
import { type C50kProcess, type C50kRun, computeRatios, deriveC50k, pooledKiBPerConnection } from './results.ts';
import { planStages } from './run-bench.ts';

const THIS_MACHINE = { requested: 50_000, replicas: 3, openFiles: 20_000, proxies: 0, minWorkers: 2, ephemeralPorts: 28_232 };

describe('c50k plan', () => {
  it('splits 50,000 over enough HAProxy processes and workers for a 20,000-descriptor limit', () => {
    const plan = planC50k(THIS_MACHINE);
    assert.equal(plan.proxyCap, haproxyConnectionCap(20_000));
    assert.equal(plan.proxies, 6);
    assert.deepEqual(plan.perProxy, [8334, 8334, 8333, 8333, 8333, 8333]);
    assert.equal(plan.perProxy.reduce((a, b) => a + b, 0), 50_000);
    assert.equal(plan.maxconn, 8434);
    assert.ok(plan.maxconn * 2 < 20_000);
    assert.equal(plan.perReplica, 16_667);
    assert.equal(plan.workers, 4);
    assert.deepEqual(plan.problems, []);
  });

  it('keeps a small run on one process and the run’s own worker count', () => {
    const plan = planC50k({ ...THIS_MACHINE, requested: 600 });
    assert.equal(plan.proxies, 1);
    assert.deepEqual(plan.perProxy, [600]);
    assert.equal(plan.workers, 2);
  });

  it('takes --c50k-proxies as given, and names every limit it would break', () => {
    assert.equal(planC50k({ ...THIS_MACHINE, requested: 600, proxies: 4 }).perProxy.join(','), '150,150,150,150');
    const plan = planC50k({ ...THIS_MACHINE, requested: 60_000, replicas: 2, proxies: 3 });
    assert.equal(plan.problems.length, 3, plan.problems.join('\n'));
    assert.match(plan.problems[0]!, /20000 connections per HAProxy process exceed/);
    assert.match(plan.problems[1]!, /30000 connections per replica exceed its 20000 descriptors/);
    assert.match(plan.problems[2]!, /ephemeral ports/);
  });
});

describe('c50k options and stage', () => {
  it('defaults to 50,000 in a full run, a small count with --quick, and plans its own stage', () => {
    assert.equal(parseBenchArgs([]).c50k, 50_000);
    assert.equal(parseBenchArgs(['--quick']).c50k, 600);
    assert.equal(parseBenchArgs(['--c50k', '1000', '--c50k-proxies', '2']).c50kProxies, 2);
    assert.equal(parseBenchArgs([]).c50kOwnSources, false);
    assert.equal(parseBenchArgs(['--c50k-own-sources']).c50kOwnSources, true);
    const stages = planStages(parseBenchArgs(['--only', 'c50k']));
    assert.deepEqual(
      stages.map((s) => [s.name, s.workloads, s.spec.kind === 'local' && s.spec.compiled]),
      [['c50k', ['c50k'], true]],
    );
    assert.ok(planStages(parseBenchArgs([])).some((s) => s.name === 'c50k'), 'in the default run');
  });

  it('refuses bad values with a UsageError', () => {
    for (const argv of [['--c50k', '0'], ['--c50k', '70000'], ['--c50k', '1.5'], ['--c50k-proxies', '-1'], ['--c50k-proxies', 'many']]) {
      assert.throws(() => parseBenchArgs(argv), UsageError, argv.join(' '));
    }
  });
});

describe('c50k results', () => {
  it('reads the soft open-files limit from /proc/PID/limits', () => {
    const text = 'Limit                     Soft Limit           Hard Limit           Units\nMax open files            20000                20000                files\n';
    assert.equal(parseNofileSoft(text), 20_000);
    assert.equal(parseNofileSoft('Max open files            unlimited            unlimited            files\n'), Number.POSITIVE_INFINITY);
    assert.equal(parseNofileSoft('nothing'), undefined);
  });

  const proc = (role: string, name: string, connections: number, before: number, after: number, fds: number): C50kProcess => ({
    role,
    name,
    connections,
    rssBeforeKiB: before,
    rssAfterKiB: after,
    fdsBefore: 20,
    fdsAfter: fds,
    fdLimit: 20_000,
  });

  const run: C50kRun = {
    workload: 'c50k',
    target: 'haproxy+redis ×2 (compiled)',
    spec: { kind: 'local', proxy: 'haproxy', adapter: 'redis', replicas: 2, compiled: true },
    server: 'node main.js',
    requested: 1000,
    proxies: 2,
    maxconn: 600,
    generatorWorkers: 2,
    connected: 1000,
    failed: 0,
    held: 990,
    holdMs: 5000,
    connectMs: 2000,
    perProxy: [
      { name: 'haproxy-1', requested: 500, connected: 500, connectMs: 1000 },
      { name: 'haproxy-2', requested: 500, connected: 500, connectMs: 1000 },
    ],
    perReplica: { 'replica-1': 500, 'replica-2': 500 },
    errors: [],
    limits: [],
    processes: [
      proc('replica', 'replica-1', 500, 100_000, 110_000, 520),
      proc('replica', 'replica-2', 500, 100_000, 106_000, 530),
      proc('proxy', 'haproxy-1', 500, 10_000, 13_000, 1014),
      proc('proxy', 'haproxy-2', 500, 10_000, 12_000, 1012),
      proc('generator', 'generator-1', 500, 50_000, 54_000, 525),
      proc('generator', 'generator-2', 500, 50_000, 54_000, 525),
    ],
  };

  it('pools RSS growth over the connections of each role', () => {
    assert.equal(pooledKiBPerConnection([]), 0);
    const d = deriveC50k(run);
    assert.equal(d.replicaKiBPerConnection, 16);
    assert.equal(d.proxyKiBPerConnection, 5);
    assert.equal(d.generatorKiBPerConnection, 8);
    assert.equal(d.heldRatio, 0.99);
    assert.equal(d.connectsPerSec, 500);
    assert.deepEqual(d.maxFds, {
      replica: { fds: 530, limit: 20_000 },
      proxy: { fds: 1014, limit: 20_000 },
      generator: { fds: 525, limit: 20_000 },
    });
  });

  it('reports the held count against 50,000 and KiB per connection at each tier', () => {
    const ratios = computeRatios([run], 2).filter((r) => /c50k|HAProxy processes/.test(r.name));
    assert.deepEqual(
      ratios.map((r) => [r.name, r.value, r.met]),
      [
        ['connections held through 2 HAProxy processes across 2 compiled replicas', 990, false],
        ['KiB per connection at a compiled replica (c50k)', 16, undefined],
        ['KiB per connection at HAProxy (c50k)', 5, undefined],
      ],
    );
    const missing = computeRatios([], 2).find((r) => r.name.includes('(c50k)'));
    assert.ok(missing && Number.isNaN(missing.value));
  });
});
