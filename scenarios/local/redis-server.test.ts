import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { createClient } from 'redis';
import { freeTcpPort } from '../lib/free-port.ts';
import { liveManagedCount } from '../lib/managed-process.ts';
import {
  encodeCommand,
  findExecutable,
  pingRedis,
  RedisServerMissingError,
  type RedisServerHandle,
  startRedisServer,
} from './redis-server.ts';

const started: RedisServerHandle[] = [];
after(async () => {
  await Promise.all(started.map((handle) => handle.stop()));
});

async function start(options: Parameters<typeof startRedisServer>[0] = {}): Promise<RedisServerHandle> {
  const handle = await startRedisServer(options);
  started.push(handle);
  return handle;
}

describe('startRedisServer', () => {
  it('starts on a free port, answers PING, stops idempotently and restarts on the same port', async () => {
    const redis = await start();
    assert.equal(redis.host, '127.0.0.1');
    assert.equal(redis.url, `redis://127.0.0.1:${redis.port}`);
    assert.notEqual(redis.port, 6379);
    assert.equal(redis.running, true);
    assert.equal(await pingRedis(redis.host, redis.port), true);

    await redis.stop();
    assert.equal(redis.running, false);
    assert.equal(await pingRedis(redis.host, redis.port), false);
    await redis.stop();

    await redis.start();
    assert.equal(redis.running, true);
    assert.equal(await pingRedis(redis.host, redis.port), true);
    await redis.start(); // already running: no second server
    await redis[Symbol.asyncDispose]();
    assert.equal(redis.running, false);
  });

  it('keeps its data across stop/start only with dataDir (append-only file, as in Compose and Swarm)', async () => {
    /** SET before a restart, GET after it. */
    const survives = async (redis: RedisServerHandle): Promise<string | null> => {
      const before = createClient({ url: redis.url });
      await before.connect();
      await before.set('wsk:probe', 'kept');
      await before.close();
      await redis.stop();
      await redis.start();
      const after = createClient({ url: redis.url });
      await after.connect();
      try {
        return await after.get('wsk:probe');
      } finally {
        await after.close();
        await redis.stop();
      }
    };
    const dataDir = await mkdtemp(join(tmpdir(), 'wsk-redis-data-'));
    try {
      assert.equal(await survives(await start({ dataDir: join(dataDir, 'nested') })), 'kept');
      assert.equal(await survives(await start()), null);
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  });

  it('honours an explicit port and a password (URL-encoded in the url)', async () => {
    const port = await freeTcpPort();
    const redis = await start({ port, password: 'p@ss word' });
    assert.equal(redis.port, port);
    assert.equal(redis.url, `redis://:p%40ss%20word@127.0.0.1:${port}`);
    assert.equal(await pingRedis('127.0.0.1', port), false, 'PING without AUTH is refused');
    assert.equal(await pingRedis('127.0.0.1', port, 'wrong'), false);
    assert.equal(await pingRedis('127.0.0.1', port, 'p@ss word'), true);
    await redis.stop();
  });

  it('fails with redis-server output when its port is taken, leaving nothing running', async () => {
    // Accepts and drops connections: the port is taken, and PINGs fail fast.
    const blocker = createServer((socket) => socket.destroy());
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const address = blocker.address();
    const port = typeof address === 'object' && address ? address.port : 0;
    const before = liveManagedCount();
    try {
      await assert.rejects(startRedisServer({ port }), (error: Error) => {
        assert.match(error.message, new RegExp(`redis-server cannot bind 127.0.0.1:${port}`));
        assert.match(error.message, /--- redis-server output ---\n.*(Address already in use|Could not create server)/s);
        return true;
      });
      assert.equal(liveManagedCount(), before);
    } finally {
      await new Promise((resolve) => blocker.close(resolve));
    }
  });

  it('tells the user to install redis-server when the binary is missing', async () => {
    await assert.rejects(startRedisServer({ command: 'redis-server-that-does-not-exist' }), (error: Error) => {
      assert.ok(error instanceof RedisServerMissingError);
      assert.equal(error.code, 'REDIS_SERVER_MISSING');
      assert.match(error.message, /apt-get install redis-server/);
      return true;
    });
  });
});

describe('redis-server helpers', () => {
  it('encodes commands in RESP so any password survives', () => {
    assert.equal(encodeCommand(['AUTH', 'a b"c']), '*2\r\n$4\r\nAUTH\r\n$5\r\na b"c\r\n');
    assert.equal(encodeCommand(['PING']), '*1\r\n$4\r\nPING\r\n');
    assert.equal(encodeCommand(['AUTH', 'é']), '*2\r\n$4\r\nAUTH\r\n$2\r\né\r\n');
  });

  it('finds executables on PATH only when executable', () => {
    assert.equal(findExecutable('sh', '/bin:/usr/bin')?.endsWith('/sh'), true);
    assert.equal(findExecutable('sh', '/nonexistent'), undefined);
    assert.equal(findExecutable('/bin/sh'), '/bin/sh');
  });

  it('reports false when nothing listens', async () => {
    assert.equal(await pingRedis('127.0.0.1', await freeTcpPort(), undefined, 500), false);
  });
});
