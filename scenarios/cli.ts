/**
 * The scenario runner: brings a topology up, runs the scenarios against it,
 * prints a table (and JSON with --json), tears everything down, and exits 0
 * only if every scenario passed. Usage: see SCENARIOS_USAGE.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { chalk } from 'zx';
import { setTrustedCa } from '../client/tls-trust.ts';
import { parseRunnerArgs, SCENARIOS_USAGE, UsageError } from './cli-options.ts';
import { driverFor } from './drivers.ts';
import { buildReport, formatTable } from './report.ts';
import { selectScenarios } from './registry.ts';
import { runScenarios } from './run-scenarios.ts';
import { installShutdown } from './shutdown.ts';
import type { Topology } from './topology.ts';

const log = (message: string) => process.stderr.write(`${chalk.dim(new Date().toISOString().slice(11, 23))} ${message}\n`);

async function main(): Promise<number> {
  const options = parseRunnerArgs(process.argv.slice(2), process.env);
  const scenarios = selectScenarios(options.only);
  let topology: Topology | undefined;
  const uninstall = installShutdown(async () => topology?.down(), log);
  try {
    log(`bringing up ${options.topology} topology: ${options.replicas} replicas behind ${options.proxy}${options.tls ? ' (TLS)' : ''}, adapter ${options.adapter}, redis ${options.redis}`);
    const driver = await driverFor(options.topology);
    topology = await driver.up({
      kind: options.topology,
      proxy: options.proxy,
      replicas: options.replicas,
      adapter: options.adapter,
      redis: options.redis,
      ...(options.logDir ? { logDir: options.logDir } : {}),
      ...(options.tls ? { tls: true } : {}),
    });
    // Every client of this run trusts the run's throwaway CA and nothing else.
    setTrustedCa(topology.endpoints().tlsCaPem);
    log(`up: proxy ${topology.endpoints().proxyUrl}${topology.describeRedis ? `; redis ${topology.describeRedis()}` : ''}`);
    const results = await runScenarios(topology, scenarios, {
      clients: options.clients,
      log,
      onResult: (r) => log(`${r.skipped ? 'SKIP' : r.ok ? chalk.green('PASS') : chalk.red('FAIL')} ${r.name} (${r.durationMs} ms)`),
    });
    const report = buildReport(
      { kind: options.topology, proxy: options.proxy, adapter: options.adapter, redis: options.redis, replicas: options.replicas, clients: options.clients, tls: options.tls },
      results,
    );
    process.stdout.write(`${formatTable(report)}\n`);
    if (options.json) {
      await mkdir(dirname(options.json), { recursive: true });
      await writeFile(options.json, `${JSON.stringify(report, null, 2)}\n`);
      log(`wrote ${options.json}`);
    }
    return report.ok ? 0 : 1;
  } finally {
    await topology?.down();
    uninstall();
  }
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    const message = error instanceof Error ? error.message : String(error);
    process.stderr.write(`scenarios: ${message}\n`);
    if (error instanceof UsageError) process.stderr.write(`${SCENARIOS_USAGE}\n`);
    process.exit(error instanceof UsageError ? 2 : 1);
  },
);
