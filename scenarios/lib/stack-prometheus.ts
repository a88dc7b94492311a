import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Endpoints, Topology } from '../topology.ts';
import { directGet } from './http-get.ts';
import { prometheusConfig, type ScaledRules, scaleForWindows } from './prometheus-config.ts';
import { type PrometheusHandle, prometheusVersion, startPrometheus } from './prometheus-server.ts';
import { REPO_ROOT } from './repo-root.ts';
import { scrapeMetrics } from './scrape-metrics.ts';
import { waitFor } from './wait-for.ts';

/** Scrape and evaluate every second: the scenarios' "short test evaluation interval". */
export const INTERVAL_SECONDS = 1;
/** alerts.yml's `for:` windows divided by this (ReplicasMissing's 5m becomes 5s). */
export const FOR_DIVISOR = 60;

export interface StackPrometheus {
  prometheus: PrometheusHandle;
  /** alerts.yml as loaded: `for:` windows scaled. */
  rules: ScaledRules;
  /** host:port of each replica it scrapes. */
  replicaTargets: string[];
  /** Every target, HAProxy's exporter included when there is one. */
  allTargets: string[];
  /** Why HAProxy's exporter is not scraped, when it is not. */
  noExporter?: string;
  version: string;
}

/** HAProxy's exporter: the stats listener the topology reports, with its basic auth. */
function haproxyExporter(topology: Topology, endpoints: Endpoints): { target: string; username: string; password: string } | string {
  if (topology.options.proxy !== 'haproxy') return `no HAProxy exporter behind ${topology.options.proxy}`;
  if (!endpoints.statsUrl) return `the ${topology.kind} topology does not expose HAProxy's stats listener to the runner`;
  const stats = new URL(endpoints.statsUrl);
  return { target: stats.host, username: decodeURIComponent(stats.username), password: decodeURIComponent(stats.password) };
}

/**
 * Why a Prometheus on this machine cannot scrape the replicas, if it cannot:
 * it reaches them the way the runner's own fetch does, never through
 * Topology.httpGet (Swarm's overlay). Locally it always can.
 */
export async function prometheusCannotReach(topology: Topology): Promise<string | undefined> {
  if (topology.kind === 'local') return undefined;
  const endpoints = topology.endpoints();
  if (endpoints.replicasReachable === false) return `the ${topology.kind} topology's replicas are not reachable from this machine, where Prometheus runs`;
  const first = endpoints.replicas[0];
  if (!first) return 'no replica running';
  try {
    await scrapeMetrics(`${first.url}/metrics`, {}, directGet);
    return undefined;
  } catch (error) {
    return `cannot scrape ${first.url}/metrics from this machine (${error instanceof Error ? error.message : String(error)})`;
  }
}

/**
 * Debian's Prometheus scraping the topology's replicas (and HAProxy's
 * exporter) every second, with prometheus/alerts.yml loaded and its `for:`
 * windows divided by FOR_DIVISOR. Resolves once every replica has been
 * scraped successfully (HAProxy's exporter is the caller's to wait for);
 * throws with the reason when the binary is missing.
 */
export async function startStackPrometheus(topology: Topology, name: string): Promise<StackPrometheus> {
  const version = prometheusVersion();
  if (!version) throw new Error('prometheus is not installed (apt-get install prometheus)');
  const endpoints = topology.endpoints();
  const exporter = haproxyExporter(topology, endpoints);
  const replicaTargets = endpoints.replicas.map((r) => new URL(r.url).host);
  const rules = scaleForWindows(await readFile(join(REPO_ROOT, 'prometheus/alerts.yml'), 'utf8'), FOR_DIVISOR);
  const config = prometheusConfig({
    replicas: replicaTargets,
    intervalSeconds: INTERVAL_SECONDS,
    rulesFile: '{{dir}}/alerts.yml',
    ...(typeof exporter === 'string' ? {} : { haproxy: { target: exporter.target, username: exporter.username, passwordFile: '{{dir}}/stats-password' } }),
  });
  const files: Record<string, string> = { 'alerts.yml': rules.text };
  if (typeof exporter !== 'string') files['stats-password'] = exporter.password;
  const allTargets = typeof exporter === 'string' ? replicaTargets : [...replicaTargets, exporter.target];
  const prometheus = await startPrometheus({
    config,
    files,
    ...(topology.options.logDir ? { logFile: join(topology.options.logDir, `prometheus-${name}.log`) } : {}),
  });
  try {
    await scrapedSince(prometheus, 0, replicaTargets);
  } catch (error) {
    await prometheus.stop();
    throw error;
  }
  return {
    prometheus,
    rules,
    replicaTargets,
    allTargets,
    version: version.replace(/^prometheus, version (\S+).*/, '$1'),
    ...(typeof exporter === 'string' ? { noExporter: exporter } : {}),
  };
}

/** Wait until every one of `instances` has been scraped successfully after `since` (ms), so a query reads values from after it. */
export async function scrapedSince(prometheus: PrometheusHandle, since: number, instances: readonly string[]): Promise<void> {
  await waitFor(
    async () => {
      const targets = await prometheus.targets();
      const stale = instances.filter((instance) => {
        const target = targets.find((t) => t.instance === instance);
        if (target === undefined) return true;
        return target.health !== 'up' || target.lastScrape <= since;
      });
      if (stale.length > 0) {
        const seen = targets.map((t) => `${t.instance} ${t.health}${t.lastError ? ` (${t.lastError})` : ''}`).join(', ');
        throw new Error(`not scraped up since then: ${stale.join(', ')}; targets: ${seen}`);
      }
      return true;
    },
    { what: `Prometheus to scrape ${instances.join(', ')} successfully`, timeoutMs: 15_000, intervalMs: 200 },
  );
}

/** The sum of an instant vector (0 when it is empty). */
export async function queryScalar(prometheus: PrometheusHandle, expr: string): Promise<number> {
  const result = await prometheus.query(expr);
  return result.reduce((sum, sample) => sum + sample.value, 0);
}
