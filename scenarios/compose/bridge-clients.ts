import { $ } from 'zx';
import { parseJsonRecords, recordField, stringField } from '../docker/json-records.ts';

/**
 * Test clients with addresses of their own on a Compose project's bridge.
 *
 * Through a published port, Docker's port proxy connects to the container
 * on the client's behalf for connections from the Docker host itself, so
 * Nginx sees every local test client as the bridge's gateway and `ip_hash`
 * has one address to hash (measured: every request from 172.x.0.1). A
 * remote client's address survives Docker's DNAT; to test what such
 * clients get, the runner adds host addresses in distinct /24s of the
 * bridge's subnet (one per simulated client network) and connects from
 * them straight to the Nginx container on the bridge.
 */

/** At most this many client networks (/24s): plenty for ip_hash to spread over 16 replicas. */
export const MAX_CLIENT_NETS = 150;

export interface BridgeNetwork {
  /** The Linux bridge device: `br-` + the first 12 characters of the network id, unless named explicitly. */
  device: string;
  /** e.g. 172.26.0.0/16 */
  subnet: string;
}

/** `docker network inspect NAME` → the bridge device and its IPv4 subnet. */
export function parseBridgeNetwork(text: string): BridgeNetwork {
  const [network] = parseJsonRecords(text, 'docker network inspect');
  if (!network) throw new SyntaxError('docker network inspect: no network');
  const id = stringField(network, 'Id', 'ID');
  const named = stringField(recordField(network, 'Options'), 'com.docker.network.bridge.name');
  const configs = recordField(network, 'IPAM').Config;
  const subnet = (Array.isArray(configs) ? configs : [])
    .map((config) => (typeof config === 'object' && config !== null ? stringField(config as Record<string, unknown>, 'Subnet') : ''))
    .find((candidate) => /^\d+\.\d+\.\d+\.\d+\/\d+$/.test(candidate));
  if (!subnet) throw new SyntaxError(`docker network inspect: network ${id.slice(0, 12)} has no IPv4 subnet`);
  return { device: named || `br-${id.slice(0, 12)}`, subnet };
}

/**
 * Client `index` → the `.1` address of one of the /24s in the upper half of
 * the subnet (Docker hands out container addresses from the bottom), e.g.
 * 172.26.0.0/16 → 172.26.128.1 … 172.26.255.1 (capped at MAX_CLIENT_NETS),
 * 192.168.0.0/20 → 192.168.8.1 … 192.168.15.1. Indexes beyond the count
 * share networks, which ip_hash treats alike. Undefined for a subnet
 * smaller than a /23 (no second /24 to use).
 */
export interface AddressPlan {
  address: (index: number) => string;
  /** Every address the plan hands out. */
  addresses: string[];
}

export function bridgeAddressPlan(subnet: string): AddressPlan | undefined {
  const [base = '', bitsText = '32'] = subnet.split('/');
  const bits = Number(bitsText);
  const octets = base.split('.').map(Number);
  if (octets.length !== 4 || octets.some((o) => !Number.isInteger(o) || o < 0 || o > 255) || !(bits >= 8 && bits <= 23)) return undefined;
  const start = (((octets[0]! << 24) | (octets[1]! << 16) | (octets[2]! << 8)) >>> 0) & ~((2 ** (32 - bits) - 1) >>> 0);
  const nets = 2 ** (24 - bits);
  const count = Math.min(MAX_CLIENT_NETS, nets / 2);
  const first = nets - count;
  const toAddress = (value: number) => [value >>> 24, (value >>> 16) & 255, (value >>> 8) & 255, value & 255].join('.');
  const address = (index: number) => toAddress((start >>> 0) + (first + (index % count)) * 256 + 1);
  return { address, addresses: Array.from({ length: count }, (_, index) => address(index)) };
}

/** `ip -batch -` input adding or removing host addresses on `device`. */
export function ipBatch(action: 'add' | 'del', addresses: readonly string[], device: string): string {
  return addresses.map((address) => `address ${action} ${address}/32 dev ${device}\n`).join('');
}

/** Runs an `ip -batch` script; `-force` so a removal carries on past addresses already gone. */
export type IpRunner = (batch: string) => Promise<void>;

export const runIpBatch: IpRunner = async (batch) => {
  const result = await $({ input: batch, nothrow: true, quiet: true, timeout: 20_000 })`ip -force -batch -`;
  if (result.exitCode !== 0) throw new Error(`ip -batch failed (exit ${result.exitCode}): ${result.stderr.trim().split('\n').slice(-3).join('; ')}`);
};
