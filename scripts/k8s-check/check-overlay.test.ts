import assert from 'node:assert/strict';
import { cp, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFile } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { REPO_ROOT } from '../../scenarios/lib/repo-root.ts';
import { checkOverlay } from './check-overlay.ts';

/**
 * The real renderer (kubectl kustomize) on the real overlays: they pass as
 * committed, and a copy broken in one file fails with the rule's problem.
 * The rules themselves are tested with literals in manifest-rules.test.ts.
 */

const OVERLAYS = join(REPO_ROOT, 'k8s', 'overlays');
const CLI = join(REPO_ROOT, 'scripts', 'k8s-check', 'cli.ts');
const run = promisify(execFile);

describe('k8s overlays, rendered by kubectl kustomize', () => {
  let copy = '';
  before(async () => {
    copy = await mkdtemp(join(tmpdir(), 'wsk-k8s-check-'));
    // The HAProxy overlay reads ../../../haproxy/haproxy.cfg: copy both trees.
    await cp(join(REPO_ROOT, 'k8s'), join(copy, 'k8s'), { recursive: true });
    await cp(join(REPO_ROOT, 'haproxy'), join(copy, 'haproxy'), { recursive: true });
  });
  after(async () => {
    if (copy) await rm(copy, { recursive: true, force: true });
  });

  it('every committed overlay renders and passes schema, strict keys and rules', async () => {
    const overlays = (await readdir(OVERLAYS)).sort();
    assert.deepEqual(overlays, ['haproxy', 'ingress-nginx', 'service-clientip']);
    for (const overlay of overlays) {
      const report = await checkOverlay(join(OVERLAYS, overlay));
      assert.deepEqual(report.problems, [], overlay);
      assert.ok(report.objects >= 7, `${overlay} renders the base and its own objects`);
    }
  });

  /** Break one file of the copy, check the overlay, restore the file. */
  async function brokenCheck(overlay: string, file: string, from: string, to: string): Promise<string[]> {
    const path = join(copy, 'k8s', file);
    const original = await readFile(path, 'utf8');
    assert.ok(original.includes(from), `${file} contains ${from}`);
    await writeFile(path, original.replace(from, to));
    try {
      return (await checkOverlay(join(copy, 'k8s', 'overlays', overlay))).problems;
    } finally {
      await writeFile(path, original);
    }
  }

  it('fails when the headless Service gets a cluster IP (HAProxy would see one server)', async () => {
    const problems = await brokenCheck('haproxy', 'overlays/haproxy/server-headless-service.yaml', '  clusterIP: None\n', '');
    assert.match(problems.join('\n'), /^haproxy: Service\/server-headless must be headless/m);
  });

  it('fails on a misspelt field (strict keys) in the base', async () => {
    const problems = await brokenCheck('ingress-nginx', 'base/server-deployment.yaml', 'readinessProbe:', 'readinesProbe:');
    assert.match(problems.join('\n'), /^fields: Deployment\/server: \/spec\/template\/spec\/containers\/0\/readinesProbe: unknown field/m);
    assert.match(problems.join('\n'), /^probes: Deployment\/server has no readinessProbe/m);
  });

  it('fails on a schema violation', async () => {
    const problems = await brokenCheck('service-clientip', 'overlays/service-clientip/server-service-clientip.yaml', 'timeoutSeconds: 10800', 'timeoutSeconds: "3h"');
    assert.match(problems.join('\n'), /^schema: Service\/server: \/spec\/sessionAffinityConfig\/clientIP\/timeoutSeconds must be integer/m);
  });

  it('fails when the grace period no longer covers preStop + drain', async () => {
    const problems = await brokenCheck('haproxy', 'base/server-deployment.yaml', 'terminationGracePeriodSeconds: 30', 'terminationGracePeriodSeconds: 15');
    assert.match(problems.join('\n'), /^drain: Deployment\/server preStop 5 s \+ DRAIN_DELAY_MS 3000 \+ SHUTDOWN_TIMEOUT_MS 10000 must be shorter than terminationGracePeriodSeconds 15 s/m);
  });

  it('fails when kustomize cannot render (a missing resource)', async () => {
    const problems = await brokenCheck('haproxy', 'overlays/haproxy/kustomization.yaml', '  - haproxy-pdb.yaml\n', '  - haproxy-pdb.yaml\n  - missing.yaml\n');
    assert.equal(problems.length, 1);
    assert.match(problems[0] ?? '', /^render: `kubectl kustomize --load-restrictor LoadRestrictionsNone .*` failed: .*missing\.yaml/);
  });

  it('cli.ts (what scripts/check.sh runs) exits 0 on a good overlay and 1 on a broken one', async () => {
    await run(process.execPath, ['--import', 'tsx', CLI, join(copy, 'k8s', 'overlays', 'haproxy')], { cwd: REPO_ROOT });
    const path = join(copy, 'k8s', 'base', 'server-deployment.yaml');
    const original = await readFile(path, 'utf8');
    await writeFile(path, original.replace('path: /readyz', 'path: /ready'));
    try {
      await assert.rejects(run(process.execPath, ['--import', 'tsx', CLI, join(copy, 'k8s', 'overlays', 'haproxy')], { cwd: REPO_ROOT }), (error: { code?: number; stdout?: string }) => {
        assert.equal(error.code, 1);
        assert.match(error.stdout ?? '', /probes: Deployment\/server readinessProbe probes \/ready, which the replica does not serve/);
        return true;
      });
    } finally {
      await writeFile(path, original);
    }
  });
});
