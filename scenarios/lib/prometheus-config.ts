/**
 * What the `prometheus` scenario feeds Debian's Prometheus: a scrape config
 * for the topology's replicas and HAProxy's exporter, and the repository's
 * alert rules with their `for:` windows shortened so a scenario sees them
 * fire in seconds. Pure: text and values in, text out.
 */

export interface ScrapeTargets {
  /** host:port of every replica, as listed when Prometheus starts (a killed one stays listed: `up` 0). */
  replicas: readonly string[];
  /** HAProxy's stats listener (its exporter answers /metrics there, behind basic auth). */
  haproxy?: { target: string; username: string; passwordFile: string };
  /** Absolute path of the rules file. */
  rulesFile?: string;
  intervalSeconds: number;
}

/**
 * prometheus.yml as JSON (JSON is YAML), with the job names
 * docs/operations.md uses and prometheus/alerts.yml expects.
 */
export function prometheusConfig({ replicas, haproxy, rulesFile, intervalSeconds }: ScrapeTargets): string {
  const interval = `${intervalSeconds}s`;
  const scrapeConfigs: Record<string, unknown>[] = [{ job_name: 'wsk-replicas', static_configs: [{ targets: [...replicas] }] }];
  if (haproxy) {
    scrapeConfigs.push({
      job_name: 'wsk-haproxy',
      basic_auth: { username: haproxy.username, password_file: haproxy.passwordFile },
      static_configs: [{ targets: [haproxy.target] }],
    });
  }
  const config = {
    global: { scrape_interval: interval, scrape_timeout: interval, evaluation_interval: interval },
    ...(rulesFile ? { rule_files: [rulesFile] } : {}),
    scrape_configs: scrapeConfigs,
  };
  return `${JSON.stringify(config, null, 2)}\n`;
}

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
const ALERT_LINE = /^\s*- alert:\s*(\S+)\s*$/;
const FOR_LINE = /^(\s*)for:\s*(\d+)(ms|s|m|h)\s*$/;

export interface ScaledRules {
  text: string;
  /** Each alert's `for:` after scaling, in ms (0: none). */
  forMs: Map<string, number>;
}

/**
 * Divide every `for:` of a rules file by `divisor`, rounded up to whole
 * seconds (Prometheus evaluates no faster than its interval), at least 1 s.
 * Expressions and their range windows are left alone.
 */
export function scaleForWindows(rules: string, divisor: number): ScaledRules {
  if (!(divisor >= 1)) throw new RangeError(`divisor must be >= 1, got ${divisor}`);
  const forMs = new Map<string, number>();
  let alert: string | undefined;
  const lines = rules.split('\n').map((line) => {
    const named = ALERT_LINE.exec(line);
    if (named) {
      alert = named[1]!;
      forMs.set(alert, 0);
      return line;
    }
    const window = FOR_LINE.exec(line);
    if (!window || alert === undefined) return line;
    const seconds = Math.max(1, Math.ceil((Number(window[2]) * UNIT_MS[window[3]!]!) / divisor / 1000));
    forMs.set(alert, seconds * 1000);
    return `${window[1]}for: ${seconds}s`;
  });
  return { text: lines.join('\n'), forMs };
}
