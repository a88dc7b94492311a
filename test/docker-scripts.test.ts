import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { promisify } from 'node:util';
import { REPO_ROOT } from '../scenarios/lib/repo-root.ts';

const run = promisify(execFile);

/** Runs a repository script; resolves with its exit code and output, never rejects. */
async function script(path: string, args: string[], env: Record<string, string> = {}) {
  try {
    const { stdout, stderr } = await run('bash', [join(REPO_ROOT, path), ...args], {
      env: { ...process.env, ...env },
      timeout: 30_000,
    });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code?: number; stdout?: string; stderr?: string };
    return { code: failed.code ?? -1, stdout: failed.stdout ?? '', stderr: failed.stderr ?? '' };
  }
}

describe('the Docker suite scripts refuse bad input before touching anything', () => {
  it('docker-scenarios.sh names a bad TOPOLOGY or PROXY and exits 1', async () => {
    const topology = await script('scripts/docker-scenarios.sh', [], { TOPOLOGY: 'k3s' });
    assert.equal(topology.code, 1);
    assert.match(topology.stderr, /TOPOLOGY must be compose, swarm or both \(got 'k3s'\)/);
    const proxy = await script('scripts/docker-scenarios.sh', [], { PROXY: 'traefik' });
    assert.equal(proxy.code, 1);
    assert.match(proxy.stderr, /PROXY must be haproxy, nginx or both \(got 'traefik'\)/);
  });

  it('docker-engine.sh: usage on an unknown command; status fails when no engine answers', async () => {
    const usage = await script('scripts/docker-engine.sh', ['bogus']);
    assert.equal(usage.code, 1);
    assert.match(usage.stderr, /usage: .* install\|start\|stop\|status\|run/);
    const dir = await mkdtemp(join(tmpdir(), 'wsk-engine-test-'));
    try {
      // A private run dir with no pid file, and a DOCKER_HOST where nothing listens.
      const status = await script('scripts/docker-engine.sh', ['status'], {
        WSK_DOCKER_RUN: dir,
        DOCKER_HOST: `unix://${join(dir, 'none.sock')}`,
      });
      assert.equal(status.code, 1);
      assert.equal(status.stdout, '');
      const stop = await script('scripts/docker-engine.sh', ['stop'], { WSK_DOCKER_RUN: dir });
      assert.equal(stop.code, 0, 'stop with nothing of its own running is a no-op');
      assert.match(stop.stderr, /no engine of this script's is running/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('stand-ins/build.sh refuses an unknown WSK_STAND_INS mode', async () => {
    const result = await script('stand-ins/build.sh', [], { WSK_STAND_INS: 'sometimes' });
    assert.equal(result.code, 1);
    assert.match(result.stderr, /WSK_STAND_INS must be auto, always or never \(got 'sometimes'\)/);
  });

  it('make-env.sh writes .env once, from .env.example, with fresh hex secrets', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'wsk-env-test-'));
    try {
      await run('mkdir', ['-p', join(dir, 'scripts')]);
      await run('cp', [join(REPO_ROOT, 'scripts/make-env.sh'), join(dir, 'scripts/')]);
      await run('cp', [join(REPO_ROOT, '.env.example'), dir]);
      const first = await run('bash', [join(dir, 'scripts/make-env.sh')]);
      assert.match(first.stderr, /wrote \.env with fresh random secrets/);
      const { stdout } = await run('cat', [join(dir, '.env')]);
      assert.doesNotMatch(stdout, /^[A-Z0-9_]+=change-me/m, 'every placeholder replaced');
      const secrets = [...stdout.matchAll(/^(REDIS_PASSWORD|WSK_COOKIE_KEY|WSK_STATS_PASSWORD)=([0-9a-f]+)$/gm)].map((m) => m[2]);
      assert.equal(secrets.length, 3);
      assert.equal(new Set(secrets).size, 3, 'distinct secrets');
      for (const secret of secrets) assert.equal(secret?.length, 64);
      const { stdout: mode } = await run('stat', ['-c', '%a', join(dir, '.env')]);
      assert.equal(mode.trim(), '600');
      await run('bash', [join(dir, 'scripts/make-env.sh')]);
      const { stdout: again } = await run('cat', [join(dir, '.env')]);
      assert.equal(again, stdout, 'an existing .env is never overwritten');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
