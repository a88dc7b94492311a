/**
 * Messages between the bench runner and its generator processes (Node IPC).
 * Every command carries a `seq`; the worker answers each with exactly one
 * reply carrying the same `seq`.
 */
import type { ConnectionMode } from './bench-connection.ts';

/**
 * How a generator client connects: `socket.io` / `raw` are the light
 * WebSocket clients (bench-connection.ts); `socket.io-client` is the real
 * client with its default transports (long-polling handshake, then the
 * WebSocket upgrade), used to hold idle connections the way browsers open them.
 */
export type ClientKind = ConnectionMode | 'socket.io-client';

export interface ClientSpec {
  /** Global client index: picks the source address, and the room in the rooms workload. */
  index: number;
  url: string;
  localAddress?: string;
}

export type Command =
  | { op: 'connect'; seq: number; mode: ClientKind; clients: ClientSpec[]; concurrency: number; timeoutMs: number }
  | { op: 'join'; seq: number; roomsPerReplica: number; timeoutMs: number }
  | {
      op: 'load';
      seq: number;
      kind: 'broadcast' | 'room';
      /** Messages per second this worker sends. */
      rate: number;
      size: number;
      /** Monotonic µs: sending starts (warm-up), measurement starts, sending stops. */
      startUs: number;
      measureUs: number;
      endUs: number;
      /** Room workload: the rooms this worker sends to, round-robin, and each room's member count. */
      rooms?: Array<[string, number]>;
    }
  | { op: 'counts'; seq: number }
  | { op: 'histogram'; seq: number }
  | { op: 'reset'; seq: number }
  | {
      op: 'storm';
      seq: number;
      url: string;
      concurrency: number;
      durationMs: number;
      /** Source addresses: clientSourceAddress(firstSource + i % sources). */
      firstSource: number;
      sources: number;
      timeoutMs: number;
    }
  | { op: 'close'; seq: number };

/** A command as the runner writes it; the seq is added when it is sent. */
export type CommandBody = Command extends infer C ? (C extends Command ? Omit<C, 'seq'> : never) : never;

export interface ConnectResult {
  connected: number;
  failed: number;
  /** First few distinct errors. */
  errors: string[];
  /** Clients per replica id (from `welcome`). */
  replicas: Record<string, number>;
  elapsedMs: number;
}

export interface JoinResult {
  /** Members per room, this worker's clients only. */
  members: Record<string, number>;
  failed: number;
}

export interface LoadResult {
  sentWarmup: number;
  sentMeasured: number;
  /** Deliveries expected from this worker's measured sends (rooms: members; broadcasts: filled in by the runner). */
  expectedMeasured: number;
  /** Event-loop utilization of this worker while it was sending (0..1). */
  elu: number;
  /** Worst delay of a send behind its schedule, ms. */
  maxLagMs: number;
}

export interface CountsResult {
  measured: number;
  warmup: number;
  disconnects: number;
  open: number;
}

export interface StormResult {
  attempts: number;
  ok: number;
  failed: number;
  /** Welcomed, but still on polling when the timeout hit. */
  notUpgraded: number;
  errors: string[];
  /** Encoded histograms (µs): start → `welcome`, start → WebSocket upgrade done. */
  welcome: string;
  upgrade: string;
  elu: number;
  replicas: Record<string, number>;
}

export type Reply = { seq: number; ok: true; result: unknown } | { seq: number; ok: false; error: string };

/** Room of a client in the rooms workload: replica-local, so all of a room's members sit on one replica. */
export function roomFor(replica: string, index: number, roomsPerReplica: number): string {
  return `${replica}.r${index % roomsPerReplica}`;
}
