/**
 * How the c50k workload splits its connections so that no process needs
 * more descriptors than the open-files limit gives it (this machine: a hard
 * limit of 20,000 that cannot be raised without CAP_SYS_RESOURCE). Pure.
 *
 * - HAProxy holds 2 descriptors per tunnelled connection (client side +
 *   replica side): one process tops out near (limit − 400) / 2, so the
 *   connections go through several HAProxy processes running the same
 *   haproxy.cfg (same dynamic-cookie-key: any of them routes a WSKSRV cookie
 *   to the same replica), each on its own port, each with maxconn raised to
 *   its share;
 * - a replica holds 1 descriptor per connection (plus Redis, listeners, …);
 * - a generator worker holds 1 per client, so the stage brings its own
 *   workers, enough for each to stay well under the limit;
 * - ephemeral ports: every client binds its own loopback source address
 *   (clientSourceAddress), so client → HAProxy pairs never run short; all
 *   HAProxy processes connect from 127.0.0.1 to each replica's address:port,
 *   so one replica may hold at most the ephemeral range (net.ipv4.ip_local_port_range).
 */
/** HAProxy needs two descriptors per tunnelled connection, plus listeners, checks and DNS. */
export function haproxyConnectionCap(openFiles: number): number {
  return Math.max(0, Math.floor((openFiles - 400) / 2));
}

/** Each HAProxy process is filled to at most this share of its descriptor cap (headroom for checks, DNS, stats). */
export const PROXY_FILL = 0.9;
/** Descriptors a replica keeps for itself beyond its connections (Redis, listener, logs, node's own). */
export const REPLICA_RESERVED_FDS = 500;
/** Client connections per generator worker (well under the limit; also bounds one worker's memory and event loop). */
export const CONNECTIONS_PER_WORKER = 12_500;

export interface C50kPlan {
  requested: number;
  proxies: number;
  /** Connections each HAProxy process gets (consecutive client indexes, one process after the other). */
  perProxy: number[];
  /** maxconn written into each process's copy of haproxy.cfg. */
  maxconn: number;
  /** What one HAProxy process could hold with its descriptors. */
  proxyCap: number;
  /** Expected share of one replica (HAProxy's leastconn spreads them). */
  perReplica: number;
  workers: number;
  /** Why this plan cannot run (empty when it can). */
  problems: string[];
}

export interface C50kInput {
  requested: number;
  replicas: number;
  /** Soft open-files limit every process of the stack inherits. */
  openFiles: number;
  /** 0: as few processes as the descriptors allow. */
  proxies: number;
  /** The run's own --workers: the stage uses at least as many. */
  minWorkers: number;
  /** Ephemeral ports (ip_local_port_range size): the bound for one replica's connections from 127.0.0.1. */
  ephemeralPorts: number;
}

export function planC50k(input: C50kInput): C50kPlan {
  const problems: string[] = [];
  const proxyCap = haproxyConnectionCap(input.openFiles);
  const fill = Math.floor(proxyCap * PROXY_FILL);
  const proxies = input.proxies > 0 ? input.proxies : Math.max(1, Math.ceil(input.requested / Math.max(1, fill)));
  const perProxy = Array.from({ length: proxies }, (_, i) => Math.floor(input.requested / proxies) + (i < input.requested % proxies ? 1 : 0));
  const largest = Math.max(...perProxy);
  if (largest > proxyCap) {
    problems.push(
      `${largest} connections per HAProxy process exceed what ${input.openFiles} descriptors allow (~${proxyCap}, 2 per connection): use more --c50k-proxies`,
    );
  }
  const perReplica = Math.ceil(input.requested / Math.max(1, input.replicas));
  if (perReplica > input.openFiles - REPLICA_RESERVED_FDS) {
    problems.push(`${perReplica} connections per replica exceed its ${input.openFiles} descriptors: use more --replicas`);
  }
  if (perReplica > input.ephemeralPorts) {
    problems.push(
      `${perReplica} connections per replica exceed the ${input.ephemeralPorts} ephemeral ports HAProxy has from 127.0.0.1 to one replica: use more --replicas`,
    );
  }
  const workers = Math.max(input.minWorkers, Math.ceil(input.requested / CONNECTIONS_PER_WORKER));
  return { requested: input.requested, proxies, perProxy, maxconn: largest + 100, proxyCap, perReplica, workers, problems };
}

/** The address HAProxy process `index` (0-based) connects to the replicas from with --c50k-own-sources. */
export function c50kSourceAddress(index: number): string {
  if (!Number.isInteger(index) || index < 0 || index > 253) throw new RangeError(`HAProxy process index must be 0..253, got ${index}`);
  return `127.0.3.${index + 1}`;
}

/**
 * haproxy.cfg for one c50k HAProxy process: the global maxconn replaced by
 * `maxconn`, and with `source` a `source` line in the replicas backend (the
 * address its connections to the replicas, health checks included, come
 * from). Pure; throws when the file no longer has the lines it edits.
 */
export function c50kHaproxyConfig(config: string, maxconn: number, source?: string): string {
  const maxconnLine = /^(\s*maxconn\s+)\d+/m;
  if (!maxconnLine.test(config)) throw new Error('haproxy.cfg has no global maxconn line to raise');
  let out = config.replace(maxconnLine, `$1${maxconn}`);
  if (source !== undefined) {
    const balance = /^(\s*)(balance\s+\S+.*)$/m;
    if (!balance.test(out)) throw new Error('haproxy.cfg has no balance line in its backend to put a source line after');
    out = out.replace(balance, `$1$2\n$1source ${source}`);
  }
  return out;
}
