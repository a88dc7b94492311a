import assert from 'node:assert/strict';
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { checkDependency, checkReplicaCount, saveLogs, upOrTearDown, writeOverrideFile } from './driver-kit.ts';

describe('what the container drivers share', () => {
  it('allows 1..16 replicas (the server-template slots), whole numbers only', () => {
    checkReplicaCount(1);
    checkReplicaCount(16);
    for (const bad of [0, 17, 2.5, Number.NaN]) assert.throws(() => checkReplicaCount(bad), /replicas must be a whole number in 1\.\.16/);
    assert.throws(() => checkDependency('postgres' as 'redis'), /unknown dependency postgres/);
  });

  it('writes the override file only when there is something to override', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'wsk-kit-'));
    try {
      assert.equal(await writeOverrideFile(dir, undefined), undefined);
      assert.deepEqual(await readdir(dir), []);
      const file = await writeOverrideFile(dir, { services: { server: { environment: { A: '1' } } } });
      assert.equal(file, join(dir, 'override.json'));
      assert.deepEqual(JSON.parse(await readFile(file!, 'utf8')), { services: { server: { environment: { A: '1' } } } });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('tears down a topology whose up() failed, then rethrows the cause (not a teardown error)', async () => {
    const calls: string[] = [];
    const failing = {
      up: async () => {
        calls.push('up');
        throw new Error('compose up failed');
      },
      down: async () => {
        calls.push('down');
        throw new Error('down failed too');
      },
    };
    await assert.rejects(upOrTearDown(failing), /compose up failed/);
    assert.deepEqual(calls, ['up', 'down']);
    const fine = { up: async () => undefined, down: async () => assert.fail('no teardown after a good up') };
    assert.equal(await upOrTearDown(fine), fine);
  });

  it('saves logs it can get and never throws for the ones it cannot', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'wsk-kit-logs-'));
    try {
      await saveLogs(join(dir, 'logs'), async function* () {
        yield ['a.log', 'first\n'] as const;
        throw new Error('docker logs failed');
      });
      assert.equal(await readFile(join(dir, 'logs', 'a.log'), 'utf8'), 'first\n');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
