import { execFileSync } from 'node:child_process';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freeTcpPort } from './free-port.ts';
import { type ManagedProcess, spawnManaged } from './managed-process.ts';
import { waitFor } from './wait-for.ts';

/** Debian's prometheus package puts it here; PROMETHEUS_BIN overrides. */
export const PROMETHEUS_BIN = process.env.PROMETHEUS_BIN ?? 'prometheus';
const START_TIMEOUT_MS = 20_000;
const API_TIMEOUT_MS = 3000;

/** The Prometheus binary's version line, or undefined when it is not installed. */
export function prometheusVersion(bin = PROMETHEUS_BIN): string | undefined {
  try {
    return execFileSync(bin, ['--version'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).split('\n')[0];
  } catch {
    return undefined;
  }
}

export interface PrometheusFiles {
  /** prometheus.yml's text; `{{dir}}` is replaced by the run's own directory. */
  config: string;
  /** Extra files written next to it first (rules, password files), by name; 0600. */
  files?: Readonly<Record<string, string>>;
  /** Where its output goes, besides the last 64 KiB kept in memory. */
  logFile?: string;
}

export interface VectorSample {
  metric: Record<string, string>;
  value: number;
}

export interface TargetState {
  job: string;
  instance: string;
  health: string;
  /** ms since the epoch; 0 before the first scrape. */
  lastScrape: number;
  lastError: string;
}

export interface AlertState {
  name: string;
  labels: Record<string, string>;
  state: 'pending' | 'firing';
  activeAt: number;
}

export interface PrometheusHandle extends AsyncDisposable {
  readonly url: string;
  readonly process: ManagedProcess;
  /** The run's directory (config, rules, data); removed by stop(). */
  readonly dir: string;
  query(expr: string): Promise<VectorSample[]>;
  targets(): Promise<TargetState[]>;
  alerts(): Promise<AlertState[]>;
  /** Names of the rules it loaded. */
  ruleNames(): Promise<string[]>;
  stop(): Promise<void>;
}

interface ApiAnswer<T> {
  status: string;
  data: T;
  error?: string;
}

async function api<T>(base: string, path: string): Promise<T> {
  const response = await fetch(`${base}${path}`, { signal: AbortSignal.timeout(API_TIMEOUT_MS) });
  const body = (await response.json()) as ApiAnswer<T>;
  if (!response.ok || body.status !== 'success') throw new Error(`GET ${path}: ${response.status} ${body.error ?? ''}`);
  return body.data;
}

/**
 * Debian's Prometheus on a free loopback port with a data directory of its
 * own, ready to answer. A failed start stops it and removes the directory,
 * then rethrows with its output.
 */
export async function startPrometheus({ config, files = {}, logFile }: PrometheusFiles): Promise<PrometheusHandle> {
  const dir = await mkdtemp(join(tmpdir(), 'wsk-prometheus-'));
  let child: ManagedProcess | undefined;
  const stop = async () => {
    await child?.stop(5000);
    await rm(dir, { recursive: true, force: true });
  };
  try {
    for (const [name, text] of Object.entries(files)) {
      await writeFile(join(dir, name), text);
      await chmod(join(dir, name), 0o600);
    }
    const configPath = join(dir, 'prometheus.yml');
    await writeFile(configPath, config.replaceAll('{{dir}}', dir));
    const port = await freeTcpPort();
    const url = `http://127.0.0.1:${port}`;
    child = spawnManaged(
      PROMETHEUS_BIN,
      [
        `--config.file=${configPath}`,
        `--storage.tsdb.path=${join(dir, 'data')}`,
        `--web.listen-address=127.0.0.1:${port}`,
        '--storage.tsdb.retention.time=1h',
        '--log.level=warn',
      ],
      { name: 'prometheus', ...(logFile ? { logFile } : {}) },
    );
    const started = child;
    await waitFor(
      async () => {
        if (!started.running) throw new Error(`prometheus ${started.describeExit()}`);
        const response = await fetch(`${url}/-/ready`, { signal: AbortSignal.timeout(1000) });
        return response.ok;
      },
      { what: `prometheus on ${url} to answer /-/ready`, timeoutMs: START_TIMEOUT_MS, intervalMs: 100 },
    );
    const handle: PrometheusHandle = {
      url,
      process: started,
      dir,
      async query(expr) {
        const data = await api<{ resultType: string; result: Array<{ metric: Record<string, string>; value: [number, string] }> }>(
          url,
          `/api/v1/query?query=${encodeURIComponent(expr)}&time=${Date.now() / 1000}`,
        );
        if (data.resultType !== 'vector') throw new Error(`${expr}: a ${data.resultType}, not a vector`);
        return data.result.map((r) => ({ metric: r.metric, value: Number(r.value[1]) }));
      },
      async targets() {
        const data = await api<{
          activeTargets: Array<{ labels: Record<string, string>; health: string; lastScrape: string; lastError: string }>;
        }>(url, '/api/v1/targets?state=active');
        return data.activeTargets.map((t) => ({
          job: t.labels.job ?? '',
          instance: t.labels.instance ?? '',
          health: t.health,
          lastScrape: t.lastScrape.startsWith('0001-') ? 0 : Date.parse(t.lastScrape),
          lastError: t.lastError,
        }));
      },
      async alerts() {
        const data = await api<{ alerts: Array<{ labels: Record<string, string>; state: string; activeAt: string }> }>(url, '/api/v1/alerts');
        return data.alerts.map((a) => ({
          name: a.labels.alertname ?? '',
          labels: a.labels,
          state: a.state === 'firing' ? 'firing' : 'pending',
          activeAt: Date.parse(a.activeAt),
        }));
      },
      async ruleNames() {
        const data = await api<{ groups: Array<{ rules: Array<{ name: string }> }> }>(url, '/api/v1/rules');
        return data.groups.flatMap((g) => g.rules.map((r) => r.name));
      },
      stop,
      [Symbol.asyncDispose]: stop,
    };
    return handle;
  } catch (error) {
    const output = child?.output().trim().split('\n').slice(-10).join('\n') ?? '';
    await stop();
    throw new Error(`${error instanceof Error ? error.message : String(error)}${output ? `\n${output}` : ''}`);
  }
}
