/**
 * `npm run bench -- [options]` (see BENCH_USAGE): runs every stage, writes
 * results.json (raw numbers), report.md and SVG charts to
 * bench/results/<timestamp>/, prints the report. Exit 0 when every stage
 * ran (whatever the numbers), 1 when a stage failed, 2 on bad options,
 * 130/143 on Ctrl-C / SIGTERM (after taking everything down).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { cpus, loadavg, release, totalmem } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { dirname, join, relative } from 'node:path';
import { chalk } from 'zx';
import { REPO_ROOT } from '../scenarios/lib/repo-root.ts';
import { installShutdown } from '../scenarios/shutdown.ts';
import type { Generator } from './generator.ts';
import { machineBetween, machineTicks } from './proc-stats.ts';
import { BENCH_USAGE, type BenchOptions, parseBenchArgs, UsageError } from './options.ts';
import { buildCharts, buildMarkdown } from './report.ts';
import type { BenchResults, Conditions } from './results.ts';
import { openFilesLimit, runBench } from './run-bench.ts';
import type { Target } from './targets.ts';

const log = (message: string) => process.stderr.write(`${chalk.dim(new Date().toISOString().slice(11, 23))} ${message}\n`);

function firstLine(command: string, args: string[]): string {
  try {
    const output = execFileSync(command, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 5000 });
    return output.split('\n')[0]!.trim();
  } catch (error) {
    const stderr = (error as { stderr?: string }).stderr;
    return stderr?.split('\n')[0]?.trim() || 'not found';
  }
}

/** nginx -v answers on stderr. */
function stderrLine(command: string, args: string[]): string {
  const result = spawnSync(command, args, { encoding: 'utf8', timeout: 5000 });
  if (result.error) return 'not found';
  return `${result.stdout}${result.stderr}`.split('\n')[0]!.trim() || 'unknown';
}

async function packageVersion(name: string): Promise<string> {
  try {
    return (JSON.parse(await readFile(join(REPO_ROOT, 'node_modules', name, 'package.json'), 'utf8')) as { version: string }).version;
  } catch {
    return 'unknown';
  }
}

/** Raise this process's soft open-files limit to the hard one; every process of the stack inherits it. */
async function raiseOpenFiles(): Promise<void> {
  const { soft, hard } = await openFilesLimit();
  if (soft >= hard) return;
  try {
    execFileSync('prlimit', ['--pid', String(process.pid), `--nofile=${hard}:${hard}`], { stdio: 'ignore', timeout: 5000 });
  } catch {
    log(`could not raise the open-files limit from ${soft} to ${hard} (prlimit missing?): idle capacity will stop early`);
  }
}

/** Cores busy over `ms` while the bench runs nothing: someone else's load, which the numbers will carry. */
async function backgroundCores(ms = 2000): Promise<number> {
  const before = await machineTicks();
  await sleep(ms);
  const { processMs, irqMs } = machineBetween(before, await machineTicks());
  return Math.round(((processMs + irqMs) / ms) * 100) / 100;
}

async function conditions(options: BenchOptions, argv: readonly string[]): Promise<Conditions> {
  const files = await openFilesLimit();
  const background = await backgroundCores();
  if (background > 0.2) {
    log(`the machine is busy before the bench starts (${background} cores in use by other processes): expect noisy numbers`);
  }
  const { report: _report, out: _out, ...rest } = options;
  return {
    startedAt: new Date().toISOString(),
    command: `npm run bench${argv.length > 0 ? ` -- ${argv.join(' ')}` : ''}`,
    node: process.version,
    cpus: cpus()[0]?.model ?? 'unknown',
    cores: cpus().length,
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    kernel: release(),
    haproxy: firstLine('haproxy', ['-v']).replace(/ - https.*$/, ''),
    nginx: stderrLine('nginx', ['-v']),
    redis: firstLine('redis-server', ['--version']).replace(/ sha=.*$/, ''),
    socketIo: await packageVersion('socket.io'),
    ws: await packageVersion('ws'),
    nofile: `${files.soft}/${files.hard}`,
    backgroundCores: background,
    loadAverage: loadavg().map((value) => Math.round(value * 100) / 100),
    options: rest as unknown as Record<string, unknown>,
  };
}

async function writeReport(results: BenchResults, dir: string): Promise<string> {
  const replicas = Number(results.conditions.options.replicas ?? 3);
  const charts = buildCharts(results, replicas);
  for (const [file, svg] of Object.entries(charts)) await writeFile(join(dir, file), svg);
  const markdown = buildMarkdown(results, replicas, Object.keys(charts));
  await writeFile(join(dir, 'report.md'), markdown);
  return markdown;
}

function timestamp(date = new Date()): string {
  return date.toISOString().replace(/[:]/g, '').replace(/\..*$/, 'Z');
}

async function main(argv: readonly string[]): Promise<number> {
  const options = parseBenchArgs(argv);
  if (options.report) {
    const results = JSON.parse(await readFile(options.report, 'utf8')) as BenchResults;
    const markdown = await writeReport(results, dirname(options.report));
    process.stdout.write(markdown);
    return 0;
  }
  await raiseOpenFiles();
  const outDir = options.out ?? join(REPO_ROOT, 'bench/results', timestamp());
  await mkdir(outDir, { recursive: true });
  let target: Target | undefined;
  let generator: Generator | undefined;
  let stageGenerator: Generator | undefined;
  let aborted = false;
  const uninstall = installShutdown(async () => {
    aborted = true;
    await Promise.allSettled([target?.down(), generator?.stop(), stageGenerator?.stop()]);
  }, log);
  try {
    log(`bench: results in ${relative(process.cwd(), outDir) || '.'}`);
    const results = await runBench(options, {
      log,
      outDir,
      conditions: await conditions(options, argv),
      aborted: () => aborted,
      onTarget: (t) => {
        target = t;
      },
      onGenerator: (g) => {
        generator = g;
      },
      onStageGenerator: (g) => {
        stageGenerator = g;
      },
    });
    // Ctrl-C: the shutdown handler is taking everything down and exits 130 itself.
    if (aborted) await new Promise(() => undefined);
    await writeFile(join(outDir, 'results.json'), `${JSON.stringify(results, null, 2)}\n`);
    const markdown = await writeReport(results, outDir);
    process.stdout.write(markdown);
    log(`wrote ${join(relative(process.cwd(), outDir) || '.', 'report.md')} (+ results.json, charts, logs/)`);
    return results.failures.length === 0 ? 0 : 1;
  } finally {
    uninstall();
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    if (error instanceof UsageError) {
      if (error.problems.length > 0) process.stderr.write(`bench: ${error.message}\n`);
      process.stderr.write(`${BENCH_USAGE}\n`);
      process.exit(error.problems.length > 0 ? 2 : 0);
    }
    process.stderr.write(`bench: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exit(1);
  },
);
