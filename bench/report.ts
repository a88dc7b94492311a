/**
 * The report: markdown tables and SVG charts, computed from results.json
 * alone (so `--report results.json` reproduces them exactly).
 */
import { decodeHistogram, percentileCurve } from './histogram.ts';
import {
  type BenchResults,
  type C50kRun,
  deriveC50k,
  computeRatios,
  deriveLoad,
  type IdleRun,
  kibPerConnection,
  type LoadRun,
  latencyAtIdle,
  type Ratio,
  rateSweep,
  relayRows,
  type StormRun,
} from './results.ts';
import { barChart, lineChart, NINES_TICKS, ninesAxis, type Series } from './svg.ts';

const r1 = (v: number) => (Number.isFinite(v) ? (Math.round(v * 10) / 10).toString() : '—');
const r2 = (v: number) => (Number.isFinite(v) ? (Math.round(v * 100) / 100).toString() : '—');
const int = (v: number) => (Number.isFinite(v) ? Math.round(v).toLocaleString('en-US') : '—');
const mib = (kib: number) => r1(kib / 1024);
const isRelayRun = (run: LoadRun) => run.spec.kind === 'local' && run.spec.relay !== undefined;

function table(header: readonly string[], rows: ReadonlyArray<readonly string[]>): string {
  const line = (cells: readonly string[]) => `| ${cells.map((c) => c.replace(/\|/g, '\\|')).join(' | ')} |`;
  return [line(header), line(header.map(() => '---')), ...rows.map(line)].join('\n');
}

function spread(perReplica: Record<string, number>): string {
  const entries = Object.entries(perReplica).sort(([a], [b]) => a.localeCompare(b, 'en', { numeric: true }));
  return entries.length <= 1 ? '' : entries.map(([, c]) => c).join('/');
}

function ratioValue(ratio: Ratio): string {
  if (!Number.isFinite(ratio.value)) return 'not measured';
  if (ratio.unit === 'ms') return `${ratio.value >= 0 ? '+' : ''}${ratio.value} ms`;
  if (ratio.unit === '×') return `${ratio.value}×`;
  if (ratio.unit === '%') return `${ratio.value}%`;
  if (ratio.unit === 'connections') return int(ratio.value);
  return `${ratio.value} ${ratio.unit}`;
}

const verdict = (met: boolean | undefined) => (met === undefined ? '' : met ? 'met' : 'missed');

export function ratiosTable(ratios: readonly Ratio[]): string {
  return table(
    ['ratio', 'this run', 'target', '', 'from'],
    ratios.map((r) => [r.name, ratioValue(r), r.target, verdict(r.met), r.basis]),
  );
}

function loadRows(runs: readonly LoadRun[]): string[][] {
  return runs.map((run) => {
    const d = deriveLoad(run);
    const generatorCores = d.generatorCpuMs / Math.max(1, run.windowMs);
    const replicaRss = run.processes.filter((p) => p.role === 'replica' || p.role === 'server').reduce((s, p) => s + p.rssKiB, 0);
    return [
      run.target + (run.variant ? ` (${run.variant})` : '') + (d.otherCores > DISTURBED_CORES ? ' ⚠' : ''),
      `${run.clients.connected}${spread(run.clients.perReplica) ? ` (${spread(run.clients.perReplica)})` : ''}`,
      `${int(run.delivered)}/${int(run.expected)}`,
      int(d.deliveriesPerSec),
      r2(run.latency.p50),
      r2(run.latency.p90),
      r2(run.latency.p99),
      r2(run.latency.max),
      r2(d.serverCores),
      r2(d.cpuUsPerDelivery),
      r2(d.replicaCpuUsPerDelivery),
      int(d.proxyCpuMs),
      int(d.redisCpuMs),
      int(d.deliveriesPerReplicaCpuS),
      mib(replicaRss),
      `${r2(generatorCores)} / ${Math.max(...run.generatorElu, 0).toFixed(2)}`,
      r2(d.softirqCores),
      r2(d.otherCores),
    ];
  });
}

/** Cores used by processes outside the bench above which a row is flagged as disturbed. */
export const DISTURBED_CORES = 0.25;
const DISTURBED_NOTE = `⚠ = more than ${DISTURBED_CORES} cores were busy with processes outside the bench and the stack during that window: its latency shows that contention, not the stack.`;

const LOAD_HEADER = [
  'target',
  'clients (per replica)',
  'delivered/expected',
  'deliveries/s',
  'p50 ms',
  'p90 ms',
  'p99 ms',
  'max ms',
  'server cores',
  'CPU-µs/delivery (all)',
  'CPU-µs/delivery (replicas)',
  'proxy CPU ms',
  'Redis CPU ms',
  'deliveries per replica CPU-s',
  'replica RSS MiB',
  'generator cores / max ELU',
  'softirq cores',
  'other cores',
];

function stormRows(runs: readonly StormRun[]): string[][] {
  return runs.map((run) => {
    const cpu = (role: string) => run.processes.filter((p) => p.role === role).reduce((s, p) => s + p.cpuMs, 0);
    const perConn = (ms: number) => (run.ok > 0 ? r2(ms / run.ok) : '—');
    const gen = run.generator.filter((p) => p.role === 'generator').reduce((s, p) => s + p.cpuMs, 0);
    return [
      run.target,
      int(run.attempts),
      int(run.ok),
      r1((run.ok * 1000) / run.durationMs),
      int(run.failed),
      int(run.notUpgraded),
      `${r2(run.welcome.p50)} / ${r2(run.welcome.p99)}`,
      `${r2(run.upgrade.p50)} / ${r2(run.upgrade.p99)}`,
      perConn(cpu('replica')),
      perConn(cpu('proxy')),
      perConn(cpu('redis')),
      `${r2(gen / run.durationMs)} / ${run.generatorElu.toFixed(2)}`,
      spread(run.perReplica),
    ];
  });
}

function idleRows(runs: readonly IdleRun[]): string[][] {
  return runs.map((run) => {
    const replicas = run.processes.filter((p) => p.role === 'replica');
    const proxy = run.processes.find((p) => p.role === 'proxy');
    return [
      run.target + (run.variant ? ` (${run.variant})` : ''),
      run.client === 'socket.io-client' ? 'socket.io-client (polling → ws)' : 'WebSocket only',
      int(run.requested),
      int(run.viaProxy),
      int(run.direct),
      int(run.held),
      int(run.failed),
      replicas.map((p) => `${p.name} ${int(p.connections)} → ${r1(kibPerConnection(p))}`).join('; '),
      proxy ? r1(kibPerConnection(proxy)) : '—',
      r1(run.generatorRssKiB / Math.max(1, run.connected)),
      `${r1(run.connectMs / 1000)} s`,
    ];
  });
}


/** The c50k stage: totals, then one row per process (memory, descriptors). */
export function c50kSection(run: C50kRun): string[] {
  const d = deriveC50k(run);
  const replicas = run.processes.filter((p) => p.role === 'replica');
  const limit = (role: string) => {
    const m = d.maxFds[role];
    return m ? `${int(m.fds)} of ${int(m.limit)}` : '—';
  };
  const out = [
    `## ${int(run.requested)} connections through HAProxy (c50k)`,
    '',
    `All connections through ${run.proxies} HAProxy processes running haproxy.cfg (maxconn ${int(run.maxconn)} each${run.ownSources ? ', each connecting to the replicas from its own 127.0.3.N' : ''}, client i → process ⌊i / share⌋, one process's share after the other), to ${replicas.length} replicas running the compiled server (${run.server}); light WebSocket-only clients, 64 handshakes at a time, each from its own loopback source address, from ${run.generatorWorkers} generator workers. KiB per connection = RSS growth / connections held by those processes.`,
    '',
    table(
      ['requested', 'connected', 'held', 'failed', 'connect time', 'connections/s', 'KiB/conn replicas', 'KiB/conn HAProxy', 'KiB/conn generator', 'max fds: replica / HAProxy / generator'],
      [
        [
          int(run.requested),
          int(run.connected),
          int(run.held),
          int(run.failed),
          `${r1(run.connectMs / 1000)} s`,
          int(d.connectsPerSec),
          r1(d.replicaKiBPerConnection),
          r1(d.proxyKiBPerConnection),
          r1(d.generatorKiBPerConnection),
          `${limit('replica')} / ${limit('proxy')} / ${limit('generator')}`,
        ],
      ],
    ),
    '',
    table(
      ['process', 'connections', 'opened in', 'RSS before → after MiB', 'KiB/conn', 'fds before → after', 'fd limit'],
      run.processes.map((p) => [
        p.name,
        int(p.connections),
        ((share) => (share ? `${r1(share.connectMs / 1000)} s` : ''))(run.perProxy.find((x) => x.name === p.name)),
        `${mib(p.rssBeforeKiB)} → ${mib(p.rssAfterKiB)}`,
        r1(kibPerConnection(p)),
        `${int(p.fdsBefore)} → ${int(p.fdsAfter)}`,
        int(p.fdLimit),
      ]),
    ),
    '',
  ];
  if (run.affinity) {
    const a = run.affinity;
    out.push(
      `Cookie affinity across the HAProxy processes: ${a.sessions} polling sessions opened at ${run.perProxy[0]?.name ?? 'the first'}, their WSKSRV cookie and sid presented to the ${run.proxies - 1} others: ${a.sameReplica} of ${a.tried} reached the replica holding the session${a.errors.length > 0 ? ` (${a.errors.join('; ')})` : ''}.`,
      '',
    );
  }
  if (run.limits.length > 0) out.push('Limits:', '', ...run.limits.map((l) => `- ${l}`), '');
  return out;
}

export interface Charts {
  [file: string]: string;
}

export function buildCharts(results: BenchResults, replicas: number): Charts {
  const charts: Charts = {};
  const fanout = results.runs.filter((r): r is LoadRun => r.workload === 'fanout');
  const curves = (runs: readonly LoadRun[]): Series[] =>
    runs
      .filter((run) => run.histogram)
      .map((run) => ({
        name: run.target + (run.variant ? ` (${run.variant})` : ''),
        points: percentileCurve(decodeHistogram(run.histogram)).map(([p, ms]) => [ninesAxis(p), ms] as const),
      }));
  const main = fanout.filter(
    (run) => run.variant === '' && !isRelayRun(run) && !(run.spec.kind === 'local' && run.spec.replicas !== replicas && !run.spec.direct),
  );
  if (main.length > 0) {
    const first = main[0]!;
    charts['latency-fanout.svg'] = lineChart({
      title: `Fan-out delivery latency (${first.clients.requested} clients, ${first.rate} broadcasts/s, ${first.size} B)`,
      xLabel: 'percentile',
      yLabel: 'send → receipt, ms',
      series: curves(main),
      xTicks: NINES_TICKS,
    });
    charts['cpu-per-delivery.svg'] = barChart({
      title: 'Server-side CPU per delivery, by process',
      unit: 'µs',
      partNames: ['replicas / server', 'proxy', 'Redis'],
      bars: main.map((run) => {
        const d = deriveLoad(run);
        const per = (ms: number) => (run.delivered > 0 ? (ms * 1000) / run.delivered : 0);
        return {
          label: run.target,
          value: d.cpuUsPerDelivery,
          parts: [d.replicaCpuUsPerDelivery, per(d.proxyCpuMs), per(d.redisCpuMs)],
        };
      }),
    });
  }
  const loadSweep = rateSweep(results.runs, results.conditions.cores);
  if (loadSweep.size > 0) {
    charts['latency-vs-load.svg'] = lineChart({
      title: 'Fan-out p50 latency against load',
      xLabel: 'thousand deliveries per second',
      yLabel: 'p50 send → receipt, ms',
      series: [...loadSweep].map(([target, points]) => ({
        name: target,
        points: points.map((point) => [point.deliveriesPerSec / 1000, point.run.latency.p50] as const),
      })),
    });
  }
  const rooms = results.runs.filter((r): r is LoadRun => r.workload === 'rooms');
  if (rooms.length > 0) {
    charts['latency-rooms.svg'] = lineChart({
      title: 'Room message delivery latency',
      xLabel: 'percentile',
      yLabel: 'send → receipt, ms',
      series: curves(rooms),
      xTicks: NINES_TICKS,
    });
  }
  // Against replicas: HAProxy + Redis pub/sub at 1..N replicas, same offered load.
  const sweep = fanout
    .filter((run) => run.spec.kind === 'local' && !run.spec.direct && !run.spec.relay && run.spec.proxy === 'haproxy' && run.spec.adapter === 'redis' && run.variant === '')
    .sort((a, b) => (a.spec.kind === 'local' && b.spec.kind === 'local' ? a.spec.replicas - b.spec.replicas : 0));
  if (sweep.length > 1) {
    const n = (run: LoadRun) => (run.spec.kind === 'local' ? run.spec.replicas : 0);
    const xTicks = sweep.map((run) => [n(run), String(n(run))] as const);
    const per = (run: LoadRun, ms: number) => (run.delivered > 0 ? (ms * 1000) / run.delivered : 0);
    charts['cpu-vs-replicas.svg'] = lineChart({
      title: 'CPU per delivery against replicas (HAProxy + Redis pub/sub)',
      xLabel: 'replicas (same offered load)',
      yLabel: 'CPU-µs per delivery',
      series: [
        { name: 'all server processes', points: sweep.map((run) => [n(run), deriveLoad(run).cpuUsPerDelivery] as const) },
        { name: 'replicas', points: sweep.map((run) => [n(run), deriveLoad(run).replicaCpuUsPerDelivery] as const) },
        { name: 'HAProxy', points: sweep.map((run) => [n(run), per(run, deriveLoad(run).proxyCpuMs)] as const) },
        { name: 'Redis', points: sweep.map((run) => [n(run), per(run, deriveLoad(run).redisCpuMs)] as const) },
      ],
      xTicks,
    });
    const cores = results.conditions.cores;
    charts['throughput-vs-replicas.svg'] = lineChart({
      title: 'Throughput against replicas (HAProxy + Redis pub/sub)',
      xLabel: 'replicas',
      yLabel: 'thousand deliveries per second',
      series: [
        { name: 'achieved (offered load)', points: sweep.map((run) => [n(run), deriveLoad(run).deliveriesPerSec / 1000] as const) },
        {
          name: `ceiling if CPU-bound, ${cores} cores`,
          points: sweep.map((run) => [n(run), (cores * 1000) / Math.max(0.001, deriveLoad(run).cpuUsPerDelivery)] as const),
        },
      ],
      xTicks,
    });
    charts['latency-vs-replicas.svg'] = lineChart({
      title: 'Fan-out latency against replicas (HAProxy + Redis pub/sub)',
      xLabel: 'replicas (same offered load)',
      yLabel: 'send → receipt, ms',
      series: [
        { name: 'p50', points: sweep.map((run) => [n(run), run.latency.p50] as const) },
        { name: 'p90', points: sweep.map((run) => [n(run), run.latency.p90] as const) },
        { name: 'p99', points: sweep.map((run) => [n(run), run.latency.p99] as const) },
      ],
      xTicks,
    });
  }
  return charts;
}

export function buildMarkdown(results: BenchResults, replicas: number, chartFiles: readonly string[]): string {
  const c = results.conditions;
  const out: string[] = [];
  out.push('# wsk benchmark report', '');
  out.push(`Run started ${c.startedAt}, took ${r1(results.durationMs / 1000)} s.`, '');
  out.push('```', c.command, '```', '');
  out.push(
    table(
      ['condition', 'value'],
      [
        ['CPU', `${c.cpus} (${c.cores} cores)`],
        ['memory', `${c.memoryGiB} GiB`],
        ['kernel', c.kernel],
        ['Node', c.node],
        ['socket.io / ws', `${c.socketIo} / ${c.ws}`],
        ['HAProxy / Nginx / Redis', `${c.haproxy} / ${c.nginx} / ${c.redis}`],
        ['open files (soft/hard)', c.nofile],
        ['busy before the run', `${c.backgroundCores ?? '?'} cores (load average ${(c.loadAverage ?? []).join(' ')})`],
        ['options', Object.entries(c.options).map(([k, v]) => `${k}=${Array.isArray(v) ? v.join(',') : String(v)}`).join(' ')],
      ],
    ),
    '',
  );
  out.push('## Ratios (reported, never asserted)', '', ratiosTable(computeRatios(results.runs, replicas)), '');

  const fanout = results.runs.filter((r): r is LoadRun => r.workload === 'fanout');
  if (fanout.length > 0) {
    out.push('## Fan-out', '');
    out.push(
      'Every client receives every broadcast (the sender too); latency is from the sender writing the message to each receipt, on the one monotonic clock of the machine. CPU is utime+stime from /proc over the measured window; "server" = replicas + proxy + Redis (or the bench server). "softirq cores": kernel time charged to no process (loopback TCP delivery); "other cores": processes that are neither the stack nor the bench (the machine is not idle otherwise).',
      '',
    );
    out.push(table(LOAD_HEADER, loadRows(fanout.filter((r) => r.variant === '' && !isRelayRun(r)))), '', DISTURBED_NOTE, '');
  }
  const sweep = rateSweep(results.runs, c.cores);
  if (sweep.size > 0) {
    out.push('## Latency against load', '');
    out.push(
      `Fan-out at fractions of the main run's broadcast rate, same clients: where each target's latency turns (saturation) and what it is while the machine is mostly idle. "machine idle" is the share of the ${c.cores} cores that no process and no interrupt used in the window (/proc/stat), other sessions included.`,
      '',
    );
    const rows: string[][] = [];
    for (const [target, points] of sweep) {
      for (const point of points) {
        const d = deriveLoad(point.run);
        rows.push([
          target,
          r2(point.run.rate),
          int(point.deliveriesPerSec),
          `${int(point.run.delivered)}/${int(point.run.expected)}`,
          r1(point.idlePct),
          r2(d.serverCores),
          r2(d.cpuUsPerDelivery),
          r2(point.run.latency.p50),
          r2(point.run.latency.p99),
        ]);
      }
    }
    out.push(
      table(['target', 'broadcasts/s', 'deliveries/s', 'delivered/expected', 'machine idle %', 'server cores', 'CPU-µs/delivery (all)', 'p50 ms', 'p99 ms'], rows),
      '',
    );
    const clusterName = [...sweep.keys()].find((name) => name.startsWith('haproxy+redis'));
    const lines: string[] = [];
    for (const base of [...sweep.keys()].filter((name) => name !== clusterName)) {
      if (!clusterName) break;
      const at = latencyAtIdle(sweep, clusterName, base);
      lines.push(
        at
          ? `- ${clusterName} against ${base}, at ${r2(at.rate)} broadcasts/s (machine idle ${r1(at.cluster.idlePct)}% / ${r1(at.base.idlePct)}%): p50 ${at.p50DiffMs >= 0 ? '+' : ''}${r2(at.p50DiffMs)} ms (${r2(at.cluster.run.latency.p50)} − ${r2(at.base.run.latency.p50)}), p99 ${r2(at.p99Ratio)}× (${r2(at.cluster.run.latency.p99)} / ${r2(at.base.run.latency.p99)})`
          : `- ${clusterName} against ${base}: no rate left the machine ≥ 40% idle in both runs`,
      );
    }
    if (lines.length > 0) out.push('Latency ratios where the machine stayed ≥ 40% idle (the highest such rate):', '', ...lines, '');
  }
  const relays = relayRows(results.runs);
  if (relays.length > 0) {
    out.push('## Relay floor', '');
    out.push(
      'One replica (+ Redis) behind each relay, the same fan-out: what a proxy hop costs per relayed frame (a delivery out, a broadcast in), by the relay\'s own CPU. "over floor" is against the cheapest relay of the run.',
      '',
    );
    out.push(
      table(
        ['relay', 'delivered/expected', 'frames relayed', 'relay CPU ms', 'relay CPU-µs/frame', 'over floor µs', 'replica CPU-µs/delivery', 'p50 ms', 'p99 ms', 'other cores'],
        relays.map(({ run, frames, proxyUsPerFrame, overFloorUs }) => {
          const d = deriveLoad(run);
          return [
            run.target,
            `${int(run.delivered)}/${int(run.expected)}`,
            int(frames),
            int(d.proxyCpuMs),
            r2(proxyUsPerFrame),
            r2(overFloorUs),
            r2(d.replicaCpuUsPerDelivery),
            r2(run.latency.p50),
            r2(run.latency.p99),
            r2(d.otherCores),
          ];
        }),
      ),
      '',
    );
  }
  const rooms = results.runs.filter((r): r is LoadRun => r.workload === 'rooms');
  if (rooms.length > 0) {
    out.push('## Rooms', '');
    out.push(
      "Each client joins one room on its own replica (rooms are replica-local: the case where sharded pub/sub sends a room's traffic to one replica only); messages go to the rooms round-robin from any client.",
      '',
    );
    out.push(
      table(
        ['target', 'rooms', 'members/room', ...LOAD_HEADER.slice(2)],
        rooms.map((run) => {
          const row = loadRows([run])[0]!;
          return [row[0]!, String(run.rooms ?? ''), String(run.membersPerRoom ?? ''), ...row.slice(2)];
        }),
      ),
      '',
    );
  }
  const storm = results.runs.filter((r): r is StormRun => r.workload === 'storm');
  if (storm.length > 0) {
    out.push('## Connection storm', '');
    out.push(
      'socket.io-client with the default transports (HTTP long-polling handshake, then the WebSocket upgrade), cookie jar on, each connection from a rotating source address; connect → `welcome` → upgrade → disconnect, in a loop.',
      '',
    );
    out.push(
      table(
        [
          'target',
          'attempts',
          'upgraded',
          'conn/s',
          'failed',
          'not upgraded',
          'welcome p50/p99 ms',
          'upgraded p50/p99 ms',
          'replica CPU-ms/conn',
          'proxy CPU-ms/conn',
          'Redis CPU-ms/conn',
          'generator cores / ELU',
          'spread',
        ],
        stormRows(storm),
      ),
      '',
    );
  }
  const idle = results.runs.filter((r): r is IdleRun => r.workload === 'idle');
  if (idle.length > 0) {
    out.push('## Idle capacity', '');
    out.push(
      'Connections opened and held idle: for capacity, the light WebSocket-only client (what a Socket.IO client is after its upgrade), 64 handshakes at a time; for the tuning rows, socket.io-client with its default transports (the handshake is a long-polling request). KiB per connection = RSS growth / connections held by that process (RSS includes heap slack, so small runs are noisy).',
      '',
    );
    out.push(
      table(
        ['target', 'client', 'requested', 'via HAProxy', 'direct', 'held', 'failed', 'replica: connections → KiB/conn', 'HAProxy KiB/conn', 'generator KiB/conn', 'connect time'],
        idleRows(idle),
      ),
      '',
    );
    for (const run of idle) {
      if (run.limits.length > 0) out.push(`Limits (${run.target}${run.variant ? `, ${run.variant}` : ''}):`, '', ...run.limits.map((l) => `- ${l}`), '');
    }
  }
  for (const run of results.runs.filter((r): r is C50kRun => r.workload === 'c50k')) out.push(...c50kSection(run));
  const tuningFanout = fanout.filter((r) => r.variant !== '' && r.spec.kind === 'single' && !r.variant.startsWith('rate '));
  if (tuningFanout.length > 0 || idle.some((r) => r.variant !== '') || results.parserCost) {
    out.push('## Tuning', '');
    const base = fanout.find((r) => r.spec.kind === 'single' && r.variant === '');
    if (tuningFanout.length > 0) {
      const b = base ? deriveLoad(base) : undefined;
      out.push(
        table(
          ['fan-out on single (no Redis)', 'CPU-µs/delivery', 'vs default', 'p50 ms', 'p99 ms', 'delivered/expected'],
          [...(base ? [base] : []), ...tuningFanout].map((run) => {
            const d = deriveLoad(run);
            const delta = b && b.cpuUsPerDelivery > 0 ? `${r1((100 * (d.cpuUsPerDelivery - b.cpuUsPerDelivery)) / b.cpuUsPerDelivery)}%` : '—';
            return [run.variant || 'default build', r2(d.cpuUsPerDelivery), run === base ? '' : delta, r2(run.latency.p50), r2(run.latency.p99), `${int(run.delivered)}/${int(run.expected)}`];
          }),
        ),
        '',
      );
    }
    const idleTuning = idle.filter((r) => r.spec.kind === 'single');
    if (idleTuning.length > 0) {
      const baseIdle = idleTuning.find((r) => r.variant === '');
      const kib = (run: IdleRun) => {
        const replica = run.processes.find((p) => p.role === 'replica');
        return replica ? kibPerConnection(replica) : Number.NaN;
      };
      const heapKib = (run: IdleRun) =>
        run.collected && run.held > 0 ? (run.collected.heapAfter - run.collected.heapBefore) / 1024 / run.held : Number.NaN;
      out.push(
        table(
          ['idle memory on single (no Redis)', 'connections held', 'heap KiB/conn (after full GC)', 'vs default', 'RSS KiB/conn', 'vs default'],
          idleTuning.map((run) => [
            run.variant || 'default build',
            int(run.held),
            r2(heapKib(run)),
            baseIdle && run !== baseIdle ? `${r2(heapKib(run) - heapKib(baseIdle))} KiB` : '',
            r1(kib(run)),
            baseIdle && run !== baseIdle ? `${r1(kib(run) - kib(baseIdle))} KiB` : '',
          ]),
        ),
        '',
      );
    }
  }
  if (results.parserCost) {
    const p = results.parserCost;
    const base = fanout.find((r) => r.spec.kind === 'single' && r.variant === '');
    const perBroadcastUs = base ? deriveLoad(base).replicaCpuUsPerDelivery * base.clients.connected : Number.NaN;
    out.push(
      `Parser: the default Socket.IO parser encodes one \`broadcast\` packet (${p.bytes} B with its envelope) in ${p.encodeUs} µs and decodes one in ${p.decodeUs} µs (${int(p.iterations)} iterations in the runner). ` +
        `A broadcast is encoded once for all its recipients and an event decoded once, while one broadcast to ${base?.clients.connected ?? '?'} clients costs the single node ${r1(perBroadcastUs)} µs of CPU: ` +
        `the parser is ${r2((100 * (p.encodeUs + p.decodeUs)) / perBroadcastUs)}% of it, so no parser choice can move fan-out cost measurably.`,
      '',
    );
  }
  if (chartFiles.length > 0) {
    out.push('## Charts', '', ...chartFiles.map((file) => `![${file}](${file})`), '');
  }
  if (results.failures.length > 0) {
    out.push('## Stages that failed', '', ...results.failures.map((f) => `- **${f.stage}**: ${f.error.replace(/\n/g, ' ')}`), '');
  }
  return `${out.join('\n')}\n`;
}
