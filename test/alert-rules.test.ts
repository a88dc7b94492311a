/**
 * prometheus/alerts.yml against Debian's promtool: the rules load, their unit
 * tests pass, and the tests would notice a broken expression: every alert has
 * a case where it must fire and one where it must stay quiet. Each broken
 * variant is a copy in a temp dir; the repository's files are never touched.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { copyFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { REPO_ROOT } from '../scenarios/lib/repo-root.ts';
import { alertExpressions, alertNames, parsePromtoolFailures, replaceExpressions } from './support/alert-rules.ts';

const DIR = join(REPO_ROOT, 'prometheus');
const TEST_FILES = ['alerts.test.yml', 'alerts.daily.test.yml'];

interface Run {
  code: number;
  output: string;
}

function promtool(args: readonly string[], cwd: string): Promise<Run> {
  return new Promise((resolve) => {
    execFile('promtool', args, { cwd, timeout: 60_000 }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === 'number' ? error.code : -1) : 0;
      resolve({ code, output: `${stdout}${stderr}` });
    });
  });
}

describe('unit: alert rule edits', () => {
  const rules = [
    'groups:',
    '  - name: g',
    '    rules:',
    '      - alert: One',
    '        expr: up == 0',
    '        for: 1m',
    '      - alert: Two',
    '        expr: >-',
    '          sum(a)',
    '          / sum(b) > 1',
    '        labels:',
    '          severity: page',
  ].join('\n');

  it('reads names and expressions, block scalars joined', () => {
    assert.deepEqual(alertNames(rules), ['One', 'Two']);
    assert.deepEqual([...alertExpressions(rules)], [
      ['One', 'up == 0'],
      ['Two', 'sum(a) / sum(b) > 1'],
    ]);
  });

  it('replaces only the expressions asked for, multi-line ones whole', () => {
    const out = replaceExpressions(rules, (name) => (name === 'Two' ? 'vector(1)' : undefined));
    assert.deepEqual([...alertExpressions(out)], [
      ['One', 'up == 0'],
      ['Two', 'vector(1)'],
    ]);
    assert.match(out, /^ {8}expr: "vector\(1\)"\n {8}labels:$/m);
    assert.equal(replaceExpressions(rules, () => undefined), rules);
  });

  it("reads promtool's failure report", () => {
    const output = [
      '  FAILED:',
      '    alertname: A, time: 2m, ',
      '        exp:[], ',
      '        got:[',
      '            0:',
      '              Labels:{a="b"}',
      '            ]',
      '    alertname: B, time: 1h30m, ',
      '        exp:[',
      '            0:',
      '              Labels:{a="b"}',
      '            ], ',
      '        got:[]',
    ].join('\n');
    assert.deepEqual(parsePromtoolFailures(output), [
      { alert: 'A', time: '2m', expectedNone: true, gotNone: false },
      { alert: 'B', time: '1h30m', expectedNone: false, gotNone: true },
    ]);
  });
});

describe('promtool: prometheus/alerts.yml', () => {
  let work: string;
  let rules: string;

  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'wsk-alerts-'));
    rules = await readFile(join(DIR, 'alerts.yml'), 'utf8');
    for (const file of TEST_FILES) await copyFile(join(DIR, file), join(work, file));
  });
  after(async () => {
    if (work) await rm(work, { recursive: true, force: true });
  });

  /** Write `variant` as the copy's alerts.yml and run every test file on it. */
  async function testVariant(variant: string): Promise<Run> {
    await writeFile(join(work, 'alerts.yml'), variant);
    return promtool(['test', 'rules', ...TEST_FILES], work);
  }

  it('loads: promtool check rules', async () => {
    const run = await promtool(['check', 'rules', 'alerts.yml'], DIR);
    assert.equal(run.code, 0, run.output);
    assert.match(run.output, new RegExp(`SUCCESS: ${alertNames(rules).length} rules found`));
  });

  it('passes its unit tests: promtool test rules', async () => {
    const run = await promtool(['test', 'rules', ...TEST_FILES], DIR);
    assert.equal(run.code, 0, run.output);
  });

  it('names exactly the alerts docs/operations.md explains', async () => {
    const docs = await readFile(join(REPO_ROOT, 'docs', 'operations.md'), 'utf8');
    const section = docs.slice(docs.indexOf('## Alerts: what each one means'));
    const documented = [...section.matchAll(/^\| \*\*(\w+)\*\*/gm)].map((m) => m[1]);
    assert.deepEqual([...documented].sort(), [...alertNames(rules)].sort());
  });

  it('fails when one expression is broken (NoReplicas compares with 3 instead of 0)', async () => {
    const broken = replaceExpressions(rules, (name, expr) => (name === 'NoReplicas' ? expr.replace('== 0', '== 3') : undefined));
    assert.notEqual(broken, rules);
    const run = await testVariant(broken);
    assert.notEqual(run.code, 0, 'promtool test rules passed with a broken NoReplicas');
    const failures = parsePromtoolFailures(run.output);
    assert.ok(failures.length > 0, run.output);
    assert.deepEqual([...new Set(failures.map((f) => f.alert))], ['NoReplicas']);
  });

  it('every alert has a case where it must fire: made never to fire, each one fails', async () => {
    const run = await testVariant(replaceExpressions(rules, () => 'vector(1) == 0'));
    assert.notEqual(run.code, 0);
    const missed = new Set(parsePromtoolFailures(run.output).filter((f) => !f.expectedNone && f.gotNone).map((f) => f.alert));
    assert.deepEqual([...missed].sort(), [...alertNames(rules)].sort(), run.output);
  });

  it('every alert has a case where it must stay quiet: made always to fire, each one fails', async () => {
    const run = await testVariant(replaceExpressions(rules, () => 'vector(1)'));
    assert.notEqual(run.code, 0);
    const noisy = new Set(parsePromtoolFailures(run.output).filter((f) => f.expectedNone && !f.gotNone).map((f) => f.alert));
    assert.deepEqual([...noisy].sort(), [...alertNames(rules)].sort(), run.output);
  });

  it('refuses an expression that does not parse: promtool check rules', async () => {
    await writeFile(join(work, 'alerts.yml'), replaceExpressions(rules, (name) => (name === 'RedisDown' ? 'min by (replica (wsk_redis_connection_up) == 0' : undefined)));
    const run = await promtool(['check', 'rules', 'alerts.yml'], work);
    assert.notEqual(run.code, 0, run.output);
    assert.match(run.output, /RedisDown|parse error/);
  });
});
