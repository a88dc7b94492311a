import { $ } from 'zx';

/** Every rule the runner adds carries this comment, so down() finds the ones a failure left behind. */
export const PARTITION_RULE_TAG = `wsk-partition-${process.pid}`;

export interface TcpConnection {
  localPort: number;
  peerPort: number;
}

/**
 * `ss -tnpH state established` lines → the connections of process `pid` to
 * one of `peerPorts` (loopback: 127.0.0.1). Lines look like
 * `0 0 127.0.0.1:41234 127.0.0.1:6380 users:(("node",pid=123,fd=21))`.
 */
export function connectionsOf(ssOutput: string, pid: number, peerPorts: readonly number[]): TcpConnection[] {
  const found: TcpConnection[] = [];
  for (const line of ssOutput.split('\n')) {
    if (!new RegExp(`[(,]pid=${pid},`).test(line)) continue;
    const addresses = [...line.matchAll(/(\S+):(\d+)\s/g)].map((m) => Number(m[2]));
    const [localPort, peerPort] = addresses;
    if (localPort !== undefined && peerPort !== undefined && peerPorts.includes(peerPort)) found.push({ localPort, peerPort });
  }
  return found;
}

/**
 * The two iptables rules that drop one loopback connection both ways (on
 * loopback both directions leave through OUTPUT). `action` -I adds, -D removes.
 */
export function dropRules(action: '-I' | '-D', connection: TcpConnection, tag = PARTITION_RULE_TAG): string[][] {
  const rule = (sport: number, dport: number) => [
    '-w',
    action,
    'OUTPUT',
    '-p',
    'tcp',
    '-s',
    '127.0.0.1',
    '-d',
    '127.0.0.1',
    '--sport',
    String(sport),
    '--dport',
    String(dport),
    '-m',
    'comment',
    '--comment',
    tag,
    '-j',
    'DROP',
  ];
  return [rule(connection.localPort, connection.peerPort), rule(connection.peerPort, connection.localPort)];
}

/** True when this runner may add iptables rules (root, and iptables answers). */
export async function canPartition(): Promise<boolean> {
  if (process.getuid?.() !== 0) return false;
  try {
    await $({ quiet: true, timeout: '5s' })`iptables -w -S OUTPUT`;
    return true;
  } catch {
    return false;
  }
}

/**
 * Drop every established connection of process `pid` to the Redis ports,
 * both ways: the connections stay open (no RST, no FIN), exactly what a
 * network partition looks like to both ends. Resolves with the function that
 * removes the rules again. Connections opened afterwards are not cut
 * (a replica does not open new ones while the old ones look alive).
 */
export async function cutFromRedis(pid: number, redisPorts: readonly number[]): Promise<() => Promise<void>> {
  const ss = await $({ quiet: true, timeout: '5s' })`ss -tnpH state established`;
  const connections = connectionsOf(ss.stdout, pid, redisPorts);
  if (connections.length === 0) throw new Error(`process ${pid} has no established connection to Redis ports ${redisPorts.join(',')}`);
  const added: string[][] = [];
  const heal = async () => {
    for (const connection of connections) {
      for (const args of dropRules('-D', connection)) await $({ quiet: true, timeout: '5s', nothrow: true })`iptables ${args}`;
    }
    added.length = 0;
  };
  try {
    for (const connection of connections) {
      for (const args of dropRules('-I', connection)) {
        await $({ quiet: true, timeout: '5s' })`iptables ${args}`;
        added.push(args);
      }
    }
  } catch (error) {
    await heal();
    throw error;
  }
  return heal;
}

/** Remove every rule this runner added (by its comment), e.g. after a failed scenario. */
export async function removePartitionRules(tag = PARTITION_RULE_TAG): Promise<number> {
  if (process.getuid?.() !== 0) return 0;
  const listed = await $({ quiet: true, timeout: '5s', nothrow: true })`iptables -w -S OUTPUT`;
  let removed = 0;
  for (const line of listed.stdout.split('\n')) {
    if (!line.includes(tag) || !line.startsWith('-A OUTPUT ')) continue;
    // `-A OUTPUT …` as listed → `-D OUTPUT …`; the comment is quoted only when it has spaces (ours has none).
    const args = ['-w', '-D', ...line.slice(3).trim().split(/\s+/)];
    await $({ quiet: true, timeout: '5s', nothrow: true })`iptables ${args}`;
    removed += 1;
  }
  return removed;
}
