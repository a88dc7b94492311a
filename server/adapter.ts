import { createAdapter as createPubSubAdapter, createShardedAdapter } from '@socket.io/redis-adapter';
import { createAdapter as createStreamsAdapter } from '@socket.io/redis-streams-adapter';
import type { ServerOptions } from 'socket.io';
import type { AdapterKind } from './config.ts';
import type { RedisConnections } from './redis-connections.ts';

export interface AdapterSetup {
  /** For `ServerOptions.adapter`. */
  adapter: NonNullable<ServerOptions['adapter']>;
  /** Server options this adapter needs or enables. */
  serverOptions: Partial<ServerOptions>;
}

export interface AdapterOptions {
  /** How long the classic adapter waits for other replicas' answers (serverSideEmit with ack). */
  requestsTimeoutMs: number;
}

/** How long a disconnected client's session can be recovered (streams adapter only). */
export const RECOVERY_WINDOW_MS = 2 * 60 * 1000;

/**
 * The cluster adapter for ADAPTER, with the Redis connections it needs.
 *
 * - `redis`: classic pub/sub (pub + sub). Every broadcast reaches every
 *   replica; at-most-once; no connection state recovery.
 * - `redis-sharded`: sharded pub/sub (Redis >= 7): room traffic goes only to
 *   replicas that hold the room.
 * - `redis-streams`: a Redis stream; messages missed during a short
 *   disconnection are replayed, so connection state recovery is enabled here
 *   and only here (the pub/sub adapters do not support it).
 */
export function createAdapterSetup(kind: AdapterKind, redis: RedisConnections, options: AdapterOptions): AdapterSetup {
  switch (kind) {
    case 'redis': {
      const pub = redis.create('pub');
      const sub = redis.create('sub');
      return {
        adapter: createPubSubAdapter(pub, sub, {
          requestsTimeout: options.requestsTimeoutMs,
          // Answers to a request go to the requester's channel only, not to every replica.
          publishOnSpecificResponseChannel: true,
        }),
        serverOptions: {},
      };
    }
    case 'redis-sharded': {
      const pub = redis.create('pub');
      const sub = redis.create('sub');
      return { adapter: createShardedAdapter(pub, sub), serverOptions: {} };
    }
    case 'redis-streams': {
      // The adapter duplicates this client for its stream reader and its
      // pub/sub subscriber; RedisConnections tracks those copies too.
      const main = redis.create('main');
      return {
        adapter: createStreamsAdapter(main),
        serverOptions: {
          connectionStateRecovery: {
            maxDisconnectionDuration: RECOVERY_WINDOW_MS,
            // Run middlewares (future authentication) again on a recovered session.
            skipMiddlewares: false,
          },
        },
      };
    }
  }
}
