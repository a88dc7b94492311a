/**
 * grafana/dashboards/wsk.json and prometheus/alerts.yml query only metric
 * names that really exist: a real local stack (redis-server, two replicas,
 * HAProxy running haproxy/haproxy.cfg) is brought up, a little traffic sent
 * through it, and every name the queries read must be in what a replica's
 * /metrics or HAProxy's exporter serve (or one Prometheus makes itself).
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { closeClients, openClients } from '../scenarios/lib/client-pool.ts';
import { collectDeliveries, sendProbes } from '../scenarios/lib/deliveries.ts';
import { directGet } from '../scenarios/lib/http-get.ts';
import { liveManagedCount } from '../scenarios/lib/managed-process.ts';
import { REPO_ROOT } from '../scenarios/lib/repo-root.ts';
import { LocalTopology } from '../scenarios/local/local-topology.ts';
import { alertExpressions } from './support/alert-rules.ts';
import { exposedNames, promqlMetricNames } from './support/promql-names.ts';

/** Series Prometheus writes for every target or rule itself. */
const PROMETHEUS_OWN = new Set(['up', 'ALERTS', 'ALERTS_FOR_STATE', 'scrape_duration_seconds', 'scrape_samples_scraped']);

interface Panel {
  title?: string;
  type?: string;
  targets?: Array<{ expr?: string }>;
  panels?: Panel[];
}

async function dashboardQueries(): Promise<Array<{ panel: string; expr: string }>> {
  const dashboard = JSON.parse(await readFile(join(REPO_ROOT, 'grafana/dashboards/wsk.json'), 'utf8')) as { panels: Panel[] };
  const out: Array<{ panel: string; expr: string }> = [];
  const visit = (panels: readonly Panel[]) => {
    for (const panel of panels) {
      for (const target of panel.targets ?? []) if (target.expr) out.push({ panel: panel.title ?? '?', expr: target.expr });
      visit(panel.panels ?? []);
    }
  };
  visit(dashboard.panels);
  return out;
}

describe('unit: metric names in PromQL', () => {
  it('reads names, not functions, keywords, labels, ranges or Grafana variables', () => {
    assert.deepEqual(
      promqlMetricNames(
        'sum by (replica, event) (rate(wsk_broadcast_deliveries_total{job="wsk-replicas",event=~"a|b"}[$__rate_interval])) / on() group_left() count(up{job="x"} == 1) > 1e9 and bool process_resident_memory_bytes offset 1d',
      ).sort(),
      ['process_resident_memory_bytes', 'up', 'wsk_broadcast_deliveries_total'],
    );
    assert.deepEqual(promqlMetricNames('histogram_quantile(0.99, sum by (le) (rate(x_bucket[5m])))'), ['x_bucket']);
    assert.deepEqual(promqlMetricNames('vector(1)'), []);
  });

  it("reads an exposition's names: samples and declared families, histograms expanded", () => {
    const text = [
      '# HELP a_total help',
      '# TYPE a_total counter',
      '# TYPE h histogram',
      'h_bucket{le="1"} 0',
      'b{x="y"} 1',
    ].join('\n');
    assert.deepEqual([...exposedNames(text)].sort(), ['a_total', 'b', 'h', 'h_bucket', 'h_count', 'h_sum']);
  });
});

/** Grafana's interval variables, as Grafana would fill them in for a query. */
const withGrafanaVariables = (expr: string) => expr.replaceAll('$__rate_interval', '1m').replaceAll('$__interval', '15s').replaceAll('$__range', '1h');

it("every dashboard query is valid PromQL: promtool checks them as recording rules", async () => {
  const queries = await dashboardQueries();
  const dir = await mkdtemp(join(tmpdir(), 'wsk-dashboard-'));
  try {
    const rules = { groups: [{ name: 'dashboard', rules: queries.map((q, i) => ({ record: `dashboard:query_${i}`, expr: withGrafanaVariables(q.expr) })) }] };
    await writeFile(join(dir, 'queries.yml'), JSON.stringify(rules));
    const { stdout } = await promisify(execFile)('promtool', ['check', 'rules', join(dir, 'queries.yml')]);
    assert.match(stdout, new RegExp(`SUCCESS: ${queries.length} rules found`));
    // And a broken one is refused, so the check can fail.
    await writeFile(join(dir, 'broken.yml'), JSON.stringify({ groups: [{ name: 'd', rules: [{ record: 'r', expr: 'sum(rate(x[1m])' }] }] }));
    await assert.rejects(promisify(execFile)('promtool', ['check', 'rules', join(dir, 'broken.yml')]));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

describe('the dashboard and the alert rules against a real stack', () => {
  let topology: LocalTopology | undefined;
  let exposed: Set<string>;

  before(async () => {
    topology = await LocalTopology.up({ kind: 'local', proxy: 'haproxy', replicas: 2, adapter: 'redis' });
    const { proxyUrl, replicas, statsUrl } = topology.endpoints();
    // Traffic first, so the labelled series (deliveries, fan-out, events,
    // disconnections) have samples, not only their families.
    const clients = await openClients(proxyUrl, 4);
    try {
      await collectDeliveries({ probes: await sendProbes(clients.slice(0, 2), 1), recipients: clients });
    } finally {
      closeClients(clients);
    }
    exposed = new Set(PROMETHEUS_OWN);
    for (const replica of replicas) {
      const { status, body } = await directGet(`${replica.url}/metrics`);
      assert.equal(status, 200);
      for (const name of exposedNames(body)) exposed.add(name);
    }
    assert.ok(statsUrl, 'the local HAProxy reports its stats listener');
    const stats = new URL(statsUrl);
    const auth = Buffer.from(`${decodeURIComponent(stats.username)}:${decodeURIComponent(stats.password)}`).toString('base64');
    const exporter = await directGet(`${stats.protocol}//${stats.host}/metrics`, { headers: { authorization: `Basic ${auth}` } });
    assert.equal(exporter.status, 200, 'HAProxy exporter');
    const haproxyNames = exposedNames(exporter.body);
    assert.ok(haproxyNames.has('haproxy_backend_active_servers'), 'the exporter answered with its metrics');
    for (const name of haproxyNames) exposed.add(name);
  });

  after(async () => {
    await topology?.down();
    assert.equal(liveManagedCount(), 0, 'processes still running after down()');
  });

  it('every metric a dashboard query reads is exposed', async () => {
    const queries = await dashboardQueries();
    assert.ok(queries.length >= 20, `the dashboard has ${queries.length} queries`);
    const missing = queries.flatMap(({ panel, expr }) => promqlMetricNames(expr).filter((n) => !exposed.has(n)).map((n) => `${panel}: ${n}`));
    assert.deepEqual(missing, []);
  });

  it('the dashboard shows what the issue asks for', async () => {
    const read = new Set((await dashboardQueries()).flatMap(({ expr }) => promqlMetricNames(expr)));
    for (const name of [
      'wsk_connected_clients',
      'wsk_broadcast_deliveries_total',
      'wsk_broadcast_fanout_bucket',
      'wsk_redis_connection_up',
      'haproxy_server_current_sessions',
      'wsk_engine_connection_errors_total',
    ]) {
      assert.ok(read.has(name), `no panel reads ${name}`);
    }
  });

  it('every metric an alert rule reads is exposed', async () => {
    const rules = alertExpressions(await readFile(join(REPO_ROOT, 'prometheus/alerts.yml'), 'utf8'));
    assert.ok(rules.size > 0);
    const missing = [...rules].flatMap(([alert, expr]) => promqlMetricNames(expr).filter((n) => !exposed.has(n)).map((n) => `${alert}: ${n}`));
    assert.deepEqual(missing, []);
  });

  it('a name nobody exposes is caught', () => {
    assert.deepEqual(
      promqlMetricNames('sum(rate(wsk_brodcast_deliveries_total[5m]))').filter((n) => !exposed.has(n)),
      ['wsk_brodcast_deliveries_total'],
    );
  });
});
