import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { prometheusConfig, scaleForWindows } from './prometheus-config.ts';
import { REPO_ROOT } from './repo-root.ts';

const run = promisify(execFile);

test('for: windows are divided, rounded up to whole seconds, at least 1 s; nothing else changes', () => {
  const rules = ['      - alert: A', '        expr: x[5m] > 0', '        for: 5m', '      - alert: B', '        expr: y', '      - alert: C', '        for: 30s', '      - alert: D', '        for: 90m'].join('\n');
  const scaled = scaleForWindows(rules, 60);
  assert.deepEqual([...scaled.forMs], [
    ['A', 5000],
    ['B', 0],
    ['C', 1000],
    ['D', 90_000],
  ]);
  assert.equal(scaled.text, rules.replace('for: 5m', 'for: 5s').replace('for: 30s', 'for: 1s').replace('for: 90m', 'for: 90s'));
  assert.match(scaled.text, /x\[5m\]/, 'range windows are left alone');
  assert.equal(scaleForWindows(rules, 1).text, rules.replace('for: 5m', 'for: 300s').replace('for: 90m', 'for: 5400s'));
  assert.throws(() => scaleForWindows(rules, 0), RangeError);
});

test("the scaled alerts.yml and the generated config pass promtool's own checks", async () => {
  const dir = await mkdtemp(join(tmpdir(), 'wsk-prom-config-'));
  try {
    const scaled = scaleForWindows(await readFile(join(REPO_ROOT, 'prometheus/alerts.yml'), 'utf8'), 60);
    assert.equal(scaled.forMs.get('ReplicasMissing'), 5000);
    assert.equal(scaled.forMs.get('NoReplicas'), 1000);
    await writeFile(join(dir, 'alerts.yml'), scaled.text);
    await writeFile(join(dir, 'password'), 'not-a-secret');
    const config = prometheusConfig({
      replicas: ['127.0.1.1:3000', '127.0.1.2:3000'],
      haproxy: { target: '127.0.0.1:8404', username: 'admin', passwordFile: join(dir, 'password') },
      rulesFile: join(dir, 'alerts.yml'),
      intervalSeconds: 1,
    });
    const parsed = JSON.parse(config) as { scrape_configs: Array<{ job_name: string }> };
    assert.deepEqual(
      parsed.scrape_configs.map((c) => c.job_name),
      ['wsk-replicas', 'wsk-haproxy'],
    );
    await writeFile(join(dir, 'prometheus.yml'), config);
    const { stdout } = await run('promtool', ['check', 'config', join(dir, 'prometheus.yml')]);
    assert.match(stdout, new RegExp(`SUCCESS: ${scaled.forMs.size} rules found`));
    const noHaproxy = JSON.parse(prometheusConfig({ replicas: ['a:1'], intervalSeconds: 2 })) as Record<string, unknown>;
    assert.equal(noHaproxy.rule_files, undefined);
    assert.deepEqual(noHaproxy.global, { scrape_interval: '2s', scrape_timeout: '2s', evaluation_interval: '2s' });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
