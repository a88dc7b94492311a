import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { mergeCounts, splitRoundRobin } from './generator.ts';
import { roomFor } from './generator-protocol.ts';
import { latencyStats, mergeEncoded, newHistogram, recordUs, encodeHistogram } from './histogram.ts';
import { parseBenchArgs, UsageError } from './options.ts';
import { descendants, parseStat, parseStatus, usageBetween } from './proc-stats.ts';
import { computeRatios, deriveLoad, type IdleRun, latencyAtIdle, type LoadRun, machineIdlePct, rateSweep, relayRows } from './results.ts';
import { haproxyConnectionCap, planStages } from './run-bench.ts';
import { barChart, escapeXml, lineChart, niceTicks, ninesAxis } from './svg.ts';
import { decodeFrame, encodeEvent, encodeEventRaw, findProbe, probePayload, rawWebSocketUrl, socketIoWebSocketUrl } from './wire.ts';

describe('wire', () => {
  it('builds the WebSocket URLs a Socket.IO client and the floor client open', () => {
    assert.equal(socketIoWebSocketUrl('http://127.0.0.1:8080'), 'ws://127.0.0.1:8080/socket.io/?EIO=4&transport=websocket');
    assert.equal(rawWebSocketUrl('http://127.0.1.1:9000'), 'ws://127.0.1.1:9000/');
  });

  it('decodes the frames a replica sends', () => {
    assert.deepEqual(decodeFrame('0{"sid":"abc","upgrades":[],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}'), {
      kind: 'open',
      sid: 'abc',
      pingInterval: 25000,
      pingTimeout: 20000,
    });
    assert.deepEqual(decodeFrame('2'), { kind: 'ping' });
    assert.deepEqual(decodeFrame('40{"sid":"x1"}'), { kind: 'connect', sid: 'x1' });
    assert.deepEqual(decodeFrame('42["welcome",{"replica":"replica-1"}]'), {
      kind: 'event',
      name: 'welcome',
      args: [{ replica: 'replica-1' }],
    });
    assert.deepEqual(decodeFrame('4312[{"ok":true,"rooms":["a"]}]'), { kind: 'ack', id: 12, args: [{ ok: true, rooms: ['a'] }] });
    assert.deepEqual(decodeFrame('44{"message":"refused"}'), { kind: 'connect_error', message: 'refused' });
  });

  it('encodes events with and without an ack id, and with a pre-encoded payload', () => {
    assert.equal(encodeEvent('join', ['room-1'], 3), '423["join","room-1"]');
    assert.equal(encodeEvent('whoami', []), '42["whoami"]');
    assert.equal(encodeEventRaw('broadcast', [], '{"t":1}'), '42["broadcast",{"t":1}]');
    assert.equal(encodeEventRaw('room:emit', ['r1'], '{"t":1}'), '42["room:emit","r1",{"t":1}]');
  });

  it('pads the probe to the requested size and finds it inside the envelope', () => {
    const probe = probePayload(123456, true, 128);
    assert.equal(Buffer.byteLength(probe), 128);
    assert.deepEqual(JSON.parse(probe).t, 123456);
    const envelope = `42["broadcast",{"id":"u","from":{"replica":"replica-2","socket":"s"},"payload":${probe},"sentAt":1}]`;
    assert.deepEqual(findProbe(envelope), { t: 123456, measured: true });
    assert.deepEqual(findProbe(probePayload(7, false, 40)), { t: 7, measured: false });
    assert.equal(findProbe('42["welcome",{"replica":"r","transport":"websocket"}]'), undefined);
  });
});

describe('proc-stats', () => {
  it('parses /proc/<pid>/stat, including a command name with spaces and parentheses', () => {
    const line = '4242 (node (tsx) x) S 100 4242 4242 0 -1 4194560 1 0 0 0 250 75 0 0 20 0 11 0 1 1 1';
    assert.deepEqual(parseStat(line), { pid: 4242, ppid: 100, cpuTicks: 325 });
  });

  it('parses VmRSS and VmHWM from /proc/<pid>/status', () => {
    assert.deepEqual(parseStatus('Name:\tnode\nVmHWM:\t  204800 kB\nVmRSS:\t  102400 kB\n'), { rssKiB: 102400, hwmKiB: 204800 });
    assert.deepEqual(parseStatus('Name:\tzombie\n'), { rssKiB: 0, hwmKiB: 0 });
  });

  it('walks a process tree', () => {
    const parents = new Map([
      [10, 1],
      [11, 10],
      [12, 10],
      [13, 11],
      [20, 1],
    ]);
    assert.deepEqual(descendants(10, parents).sort(), [10, 11, 12, 13]);
  });

  it('turns two samples into CPU spent and memory held', () => {
    const before = [{ role: 'replica' as const, name: 'r1', pid: 5, cpuTicks: 100, rssKiB: 1000, hwmKiB: 1000, processes: 1 }];
    const after = [{ role: 'replica' as const, name: 'r1', pid: 5, cpuTicks: 150, rssKiB: 3000, hwmKiB: 3000, processes: 1 }];
    const [usage] = usageBetween(before, after);
    assert.equal(usage?.rssKiB, 3000);
    assert.equal(usage?.rssStartKiB, 1000);
    assert.ok((usage?.cpuMs ?? 0) > 0);
  });
});

describe('generator helpers', () => {
  it('splits round-robin and merges counts', () => {
    assert.deepEqual(splitRoundRobin([1, 2, 3, 4, 5], 2), [
      [1, 3, 5],
      [2, 4],
    ]);
    assert.deepEqual(mergeCounts([{ a: 1, b: 2 }, { a: 3 }]), { a: 4, b: 2 });
    assert.equal(roomFor('replica-2', 7, 5), 'replica-2.r2');
  });

  it('adds encoded histograms', () => {
    const a = newHistogram();
    const b = newHistogram();
    for (let i = 1; i <= 100; i++) recordUs(a, i * 1000);
    recordUs(b, 500_000);
    const total = mergeEncoded([encodeHistogram(a), encodeHistogram(b)]);
    const stats = latencyStats(total);
    assert.equal(stats.count, 101);
    assert.ok(stats.p50 > 49 && stats.p50 < 52, `p50 ${stats.p50}`);
    assert.ok(stats.max >= 499, `max ${stats.max}`);
  });
});

describe('options', () => {
  it('has a default that names every workload and target', () => {
    const options = parseBenchArgs([]);
    assert.equal(options.clients, 1000);
    assert.equal(options.rate, 50);
    assert.ok(options.only.includes('idle') && options.targets.includes('floor'));
  });

  it('lets --quick shrink the run and explicit options win', () => {
    const options = parseBenchArgs(['--quick', '--clients', '50', '--only=fanout,idle', '--targets', 'floor,haproxy']);
    assert.equal(options.durationS, 2);
    assert.equal(options.clients, 50);
    assert.deepEqual(options.only, ['fanout', 'idle']);
    assert.deepEqual(options.targets, ['floor', 'haproxy']);
  });

  it('lists every problem at once', () => {
    assert.throws(
      () => parseBenchArgs(['--clients', 'many', '--only', 'fanout,nope', '--frobnicate', '--rate']),
      (error: unknown) => error instanceof UsageError && error.problems.length === 4,
    );
  });
});

describe('plan', () => {
  it('puts the floor, the baselines, every proxy and adapter, the sweep, idle and tuning in one run', () => {
    const names = planStages(parseBenchArgs([])).map((stage) => stage.name);
    for (const name of ['floor', 'single', 'direct', 'haproxy', 'nginx', 'sharded', 'streams', 'sweep-1', 'sweep-2', 'idle']) {
      assert.ok(names.includes(name), `${name} in ${names.join(', ')}`);
    }
    assert.ok(names.some((name) => name.startsWith('tuning:')));
  });

  it('keeps only what --only and --targets ask for', () => {
    const stages = planStages(parseBenchArgs(['--only', 'storm', '--targets', 'haproxy,floor']));
    assert.deepEqual(
      stages.map((s) => [s.name, s.workloads]),
      [['haproxy', ['storm']]],
    );
  });

  it('sizes HAProxy by its descriptors', () => {
    assert.equal(haproxyConnectionCap(20_000), 9800);
    assert.equal(haproxyConnectionCap(100), 0);
  });
});

function loadRun(overrides: Partial<LoadRun>): LoadRun {
  return {
    workload: 'fanout',
    target: 't',
    spec: { kind: 'single' },
    variant: '',
    clients: { requested: 1000, connected: 1000, failed: 0, errors: [], perReplica: {} },
    rate: 50,
    size: 128,
    windowMs: 10_000,
    sentMeasured: 500,
    expected: 500_000,
    delivered: 500_000,
    latency: { count: 500_000, p50: 2, p90: 3, p99: 5, p999: 8, max: 10, mean: 2 },
    histogram: '',
    processes: [{ role: 'replica', name: 'single', cpuMs: 5000, rssKiB: 1, rssStartKiB: 1, hwmKiB: 1 }],
    generator: [],
    generatorElu: [],
    maxSendLagMs: 0,
    machine: { processMs: 0, irqMs: 0 },
    ...overrides,
  };
}

describe('results', () => {
  it('derives rates and CPU per delivery from raw numbers', () => {
    const d = deriveLoad(loadRun({}));
    assert.equal(d.deliveriesPerSec, 50_000);
    assert.equal(d.cpuUsPerDelivery, 10);
    assert.equal(d.deliveriesPerReplicaCpuS, 100_000);
  });

  it('computes the ratios the issue names, with their targets, never failing on them', () => {
    const single = loadRun({});
    const floor = loadRun({
      spec: { kind: 'floor' },
      processes: [{ role: 'server', name: 'ws-floor', cpuMs: 2500, rssKiB: 1, rssStartKiB: 1, hwmKiB: 1 }],
    });
    const cluster = loadRun({
      spec: { kind: 'local', proxy: 'haproxy', adapter: 'redis', replicas: 3 },
      latency: { count: 1, p50: 2.5, p90: 4, p99: 12, p999: 20, max: 30, mean: 3 },
      processes: [
        { role: 'replica', name: 'replica-1', cpuMs: 2000, rssKiB: 1, rssStartKiB: 1, hwmKiB: 1 },
        { role: 'replica', name: 'replica-2', cpuMs: 2000, rssKiB: 1, rssStartKiB: 1, hwmKiB: 1 },
        { role: 'replica', name: 'replica-3', cpuMs: 2000, rssKiB: 1, rssStartKiB: 1, hwmKiB: 1 },
        { role: 'proxy', name: 'haproxy', cpuMs: 1000, rssKiB: 1, rssStartKiB: 1, hwmKiB: 1 },
        { role: 'redis', name: 'redis', cpuMs: 100, rssKiB: 1, rssStartKiB: 1, hwmKiB: 1 },
      ],
    });
    const idle: IdleRun = {
      workload: 'idle',
      target: 'haproxy+redis ×3',
      spec: { kind: 'local', proxy: 'haproxy', adapter: 'redis', replicas: 3 },
      variant: '',
      client: 'socket.io',
      requested: 12_000,
      viaProxy: 9800,
      direct: 2200,
      connected: 12_000,
      failed: 0,
      held: 12_000,
      holdMs: 5000,
      connectMs: 9000,
      errors: [],
      limits: [],
      processes: [
        { role: 'replica', name: 'replica-1', connections: 4000, rssBeforeKiB: 100_000, rssAfterKiB: 180_000 },
        { role: 'proxy', name: 'haproxy (idle)', connections: 9800, rssBeforeKiB: 10_000, rssAfterKiB: 59_000 },
      ],
      generatorRssKiB: 0,
    };
    const ratios = computeRatios([floor, single, cluster, idle], 3);
    const byName = (prefix: string) => ratios.find((r) => r.name.startsWith(prefix));
    const p50 = byName('cross-replica p50 − single-node p50 (vs single');
    assert.equal(p50?.value, 0.5);
    assert.equal(p50?.met, true);
    const p99 = byName('cross-replica p99 / single-node p99 (vs single');
    assert.equal(p99?.value, 2.4);
    assert.equal(p99?.met, false);
    assert.equal(byName('CPU-µs per delivery, cluster / single node (vs single')?.value, 1.42);
    assert.equal(byName('… of which replicas only, cluster / single node (vs single')?.value, 1.2);
    assert.equal(byName('deliveries/s per replica CPU-second, cluster')?.value, 41.7);
    assert.equal(byName('concurrent connections')?.value, 12_000);
    assert.equal(byName('KiB per idle connection at a replica')?.value, 20);
    assert.equal(byName('KiB per idle connection at HAProxy')?.value, 5);
    // Missing baseline: reported as not measured, not thrown.
    assert.ok(Number.isNaN(byName('cross-replica p50 − single-node p50 (vs replica + Redis')?.value ?? 0));
    assert.ok(Number.isNaN(byName('CPU-µs per delivery, cluster / node cluster')?.value ?? 0), 'no peer run');

    const peer = loadRun({
      spec: { kind: 'peer', workers: 2 },
      target: 'node cluster ×2 (sticky)',
      latency: { count: 1, p50: 2.25, p90: 3, p99: 6, p999: 8, max: 9, mean: 2 },
      processes: [
        { role: 'proxy', name: 'node cluster primary', cpuMs: 500, rssKiB: 1, rssStartKiB: 1, hwmKiB: 1 },
        { role: 'replica', name: 'peer-1', cpuMs: 2500, rssKiB: 1, rssStartKiB: 1, hwmKiB: 1 },
        { role: 'replica', name: 'peer-2', cpuMs: 2500, rssKiB: 1, rssStartKiB: 1, hwmKiB: 1 },
      ],
    });
    const withPeer = computeRatios([floor, single, cluster, peer, idle], 3);
    const peerRatio = (prefix: string) => withPeer.find((r) => r.name.startsWith(prefix));
    assert.equal(peerRatio('cluster p50 − node cluster ×2 (sticky) p50')?.value, 0.25);
    // (6000 + 1000 + 100) / (5000 + 500) CPU-ms over the same deliveries.
    assert.equal(peerRatio('CPU-µs per delivery, cluster / node cluster ×2 (sticky)')?.value, 1.29);
    // 500,000 deliveries per 5 worker CPU-s against 200,000 per floor CPU-s.
    assert.equal(peerRatio('deliveries/s per worker CPU-second, node cluster')?.value, 50);
  });

  it('sweeps rates per target and states latency ratios only where the machine stayed ≥ 40% idle', () => {
    // 2 cores over 10 s = 20,000 core-ms; busy = processes + interrupts.
    const point = (target: string, rate: number, busyMs: number, p50: number, p99: number, main = false) =>
      loadRun({
        target,
        rate,
        variant: main ? '' : `rate ${rate}/s`,
        machine: { processMs: busyMs - 1000, irqMs: 1000 },
        latency: { count: 1, p50, p90: p50, p99, p999: p99, max: p99, mean: p50 },
      });
    const runs = [
      point('single (no Redis)', 50, 19_000, 400, 900, true),
      point('single (no Redis)', 5, 6000, 2, 4),
      point('single (no Redis)', 25, 11_000, 5, 10),
      point('haproxy+redis ×3', 50, 20_000, 500, 1200, true),
      point('haproxy+redis ×3', 5, 8000, 3, 6),
      point('haproxy+redis ×3', 25, 13_000, 8, 30),
    ];
    assert.equal(machineIdlePct(runs[1]!, 2), 70);
    const sweep = rateSweep(runs, 2);
    assert.deepEqual(
      sweep.get('haproxy+redis ×3')?.map((p) => [p.run.rate, p.idlePct]),
      [
        [5, 60],
        [25, 35],
        [50, 0],
      ],
    );
    // At 25/s the cluster's window was only 35% idle: the ratio comes from 5/s.
    const at = latencyAtIdle(sweep, 'haproxy+redis ×3', 'single (no Redis)');
    assert.deepEqual([at?.rate, at?.p50DiffMs, at?.p99Ratio], [5, 1, 1.5]);
    assert.equal(latencyAtIdle(sweep, 'haproxy+redis ×3', 'single (no Redis)', 80), undefined);
  });

  it('prices each relay per relayed frame against the cheapest one', () => {
    const relay = (kind: 'node-tcp' | 'haproxy-tcp' | 'haproxy-http', proxyCpuMs: number) =>
      loadRun({
        spec: { kind: 'local', proxy: 'haproxy', adapter: 'redis', replicas: 1, relay: kind },
        sentMeasured: 1000,
        delivered: 99_000,
        processes: [
          { role: 'replica', name: 'replica-1', cpuMs: 1000, rssKiB: 1, rssStartKiB: 1, hwmKiB: 1 },
          { role: 'proxy', name: kind, cpuMs: proxyCpuMs, rssKiB: 1, rssStartKiB: 1, hwmKiB: 1 },
        ],
      });
    const rows = relayRows([relay('node-tcp', 300), relay('haproxy-tcp', 200), relay('haproxy-http', 500), loadRun({})]);
    assert.deepEqual(
      rows.map((row) => [row.run.spec.kind === 'local' ? row.run.spec.relay : '', row.frames, row.proxyUsPerFrame, row.overFloorUs]),
      [
        ['node-tcp', 100_000, 3, 1],
        ['haproxy-tcp', 100_000, 2, 0],
        ['haproxy-http', 100_000, 5, 3],
      ],
    );
  });
});

describe('svg', () => {
  it('escapes text and draws well-formed charts', () => {
    assert.equal(escapeXml('a<b & "c"'), 'a&lt;b &amp; &quot;c&quot;');
    assert.deepEqual(niceTicks(9), [0, 2, 4, 6, 8, 10]);
    assert.ok(Math.abs(ninesAxis(99) - 2) < 1e-9);
    const line = lineChart({ title: 'T', xLabel: 'x', yLabel: 'y', series: [{ name: 's<1>', points: [[0, 1], [1, 2]] }] });
    assert.match(line, /^<svg [^>]+>/);
    assert.match(line, /<path d="M/);
    assert.match(line, /s&lt;1&gt;/);
    assert.match(line, /<\/svg>\n$/);
    const bars = barChart({ title: 'B', unit: 'µs', bars: [{ label: 'a', value: 3 }] });
    assert.match(bars, /<rect x="230"/);
  });
});
