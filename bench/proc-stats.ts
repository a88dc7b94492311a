/**
 * CPU time and memory of processes, read from Linux /proc: utime + stime from
 * /proc/<pid>/stat, VmRSS and VmHWM from /proc/<pid>/status. A process is
 * measured with its descendants (Nginx's workers are children of its master),
 * so one "process" of the report is what its role costs as a whole.
 */
import { execFileSync } from 'node:child_process';
import { readdir, readFile } from 'node:fs/promises';

/** Clock ticks per second of utime/stime (`getconf CLK_TCK`; 100 on every Linux we know). */
export const CLOCK_TICKS = (() => {
  try {
    const value = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());
    return Number.isInteger(value) && value > 0 ? value : 100;
  } catch {
    return 100;
  }
})();

export interface StatFields {
  pid: number;
  ppid: number;
  /** utime + stime, in clock ticks. */
  cpuTicks: number;
}

/** Parse /proc/<pid>/stat. The command name (field 2) may hold spaces and parentheses: split after the last ')'. */
export function parseStat(text: string): StatFields {
  const close = text.lastIndexOf(')');
  if (close < 0) throw new Error(`not a /proc/<pid>/stat line: ${text.slice(0, 60)}`);
  const pid = Number(text.slice(0, text.indexOf(' ')));
  // After ") ": state(3) ppid(4) … utime(14) stime(15); index 0 here is field 3.
  const rest = text.slice(close + 2).trim().split(/\s+/);
  const ppid = Number(rest[1]);
  const utime = Number(rest[11]);
  const stime = Number(rest[12]);
  if (![pid, ppid, utime, stime].every(Number.isFinite)) throw new Error(`unparsable /proc stat: ${text.slice(0, 80)}`);
  return { pid, ppid, cpuTicks: utime + stime };
}

export interface MemoryFields {
  /** Resident set size now, KiB. */
  rssKiB: number;
  /** Peak resident set size, KiB. */
  hwmKiB: number;
}

/** Parse VmRSS / VmHWM (KiB) from /proc/<pid>/status; 0 when absent (zombie). */
export function parseStatus(text: string): MemoryFields {
  const field = (name: string): number => {
    const match = new RegExp(`^${name}:\\s+(\\d+) kB$`, 'm').exec(text);
    return match ? Number(match[1]) : 0;
  };
  return { rssKiB: field('VmRSS'), hwmKiB: field('VmHWM') };
}

async function readStat(pid: number): Promise<StatFields | undefined> {
  try {
    return parseStat(await readFile(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return undefined;
  }
}

async function readMemory(pid: number): Promise<MemoryFields | undefined> {
  try {
    return parseStatus(await readFile(`/proc/${pid}/status`, 'utf8'));
  } catch {
    return undefined;
  }
}

/** Every process's parent, from one scan of /proc. */
async function parentMap(): Promise<Map<number, number>> {
  const parents = new Map<number, number>();
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = await readStat(Number(entry));
    if (stat) parents.set(stat.pid, stat.ppid);
  }
  return parents;
}

/** Pure part of processTree: `root` plus everything whose parent chain reaches it. */
export function descendants(root: number, parents: ReadonlyMap<number, number>): number[] {
  const children = new Map<number, number[]>();
  for (const [pid, ppid] of parents) {
    const list = children.get(ppid) ?? [];
    list.push(pid);
    children.set(ppid, list);
  }
  const out: number[] = [];
  const stack = [root];
  while (stack.length > 0 && out.length < 10_000) {
    const pid = stack.pop()!;
    out.push(pid);
    stack.push(...(children.get(pid) ?? []));
  }
  return out;
}

/** A process of the topology by the part it plays. */
export type Role = 'replica' | 'proxy' | 'redis' | 'server' | 'generator' | 'runner';

export interface WatchedProcess {
  role: Role;
  name: string;
  pid: number;
  /** Count this process only, not its descendants (the runner: its descendants are the whole stack). */
  alone?: boolean;
}

export interface ProcessSample {
  role: Role;
  name: string;
  pid: number;
  /** CPU ticks of the process and its descendants (CLOCK_TICKS per second). */
  cpuTicks: number;
  rssKiB: number;
  hwmKiB: number;
  /** How many processes (root + descendants) were summed. */
  processes: number;
}

/** One reading of every watched process (and its descendants). Gone processes read as 0. */
export async function sampleProcesses(watched: readonly WatchedProcess[]): Promise<ProcessSample[]> {
  const parents = await parentMap();
  return Promise.all(
    watched.map(async (process) => {
      const pids = process.alone ? [process.pid] : descendants(process.pid, parents);
      let cpuTicks = 0;
      let rssKiB = 0;
      let hwmKiB = 0;
      let count = 0;
      for (const pid of pids) {
        const [stat, memory] = await Promise.all([readStat(pid), readMemory(pid)]);
        if (!stat) continue;
        count += 1;
        cpuTicks += stat.cpuTicks;
        rssKiB += memory?.rssKiB ?? 0;
        hwmKiB += memory?.hwmKiB ?? 0;
      }
      return { role: process.role, name: process.name, pid: process.pid, cpuTicks, rssKiB, hwmKiB, processes: count };
    }),
  );
}

export interface ProcessUsage {
  role: Role;
  name: string;
  /** CPU milliseconds spent between the two samples. */
  cpuMs: number;
  /** RSS at the end, KiB. */
  rssKiB: number;
  /** RSS at the start, KiB. */
  rssStartKiB: number;
  /** Peak RSS over the process's life so far, KiB. */
  hwmKiB: number;
}

/** CPU spent and memory held between two samples of the same processes. */
export function usageBetween(before: readonly ProcessSample[], after: readonly ProcessSample[]): ProcessUsage[] {
  return after.map((end) => {
    const start = before.find((sample) => sample.pid === end.pid && sample.name === end.name);
    const ticks = Math.max(0, end.cpuTicks - (start?.cpuTicks ?? 0));
    return {
      role: end.role,
      name: end.name,
      cpuMs: (ticks * 1000) / CLOCK_TICKS,
      rssKiB: end.rssKiB,
      rssStartKiB: start?.rssKiB ?? 0,
      hwmKiB: end.hwmKiB,
    };
  });
}

export interface MachineTicks {
  /** user + nice + system + steal: time in processes (ours and everyone else's). */
  processTicks: number;
  /** irq + softirq: kernel work not charged to any process (loopback TCP delivery is mostly softirq). */
  irqTicks: number;
  idleTicks: number;
}

/** CPU ticks of the whole machine (all cores), from the first line of /proc/stat. */
export function parseMachineStat(text: string): MachineTicks {
  const line = text.split('\n').find((l) => l.startsWith('cpu '));
  if (!line) throw new Error('no "cpu " line in /proc/stat');
  // user nice system idle iowait irq softirq steal guest guest_nice; guest time is already in user.
  const [user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0] = line
    .trim()
    .split(/\s+/)
    .slice(1)
    .map(Number);
  return { processTicks: user + nice + system + steal, irqTicks: irq + softirq, idleTicks: idle + iowait };
}

export async function machineTicks(): Promise<MachineTicks> {
  return parseMachineStat(await readFile('/proc/stat', 'utf8'));
}

/** Milliseconds of process time and of irq/softirq time between two readings. */
export function machineBetween(before: MachineTicks, after: MachineTicks): { processMs: number; irqMs: number } {
  return {
    processMs: Math.round(ticksToMs(after.processTicks - before.processTicks)),
    irqMs: Math.round(ticksToMs(after.irqTicks - before.irqTicks)),
  };
}

export function ticksToMs(ticks: number): number {
  return (ticks * 1000) / CLOCK_TICKS;
}

/** Open descriptors of one process (entries of /proc/PID/fd); 0 when it is gone. */
export async function openFdCount(pid: number): Promise<number> {
  try {
    return (await readdir(`/proc/${pid}/fd`)).length;
  } catch {
    return 0;
  }
}

/** The soft "Max open files" of /proc/PID/limits text; undefined when absent. Pure. */
export function parseNofileSoft(limits: string): number | undefined {
  const match = /^Max open files\s+(\d+|unlimited)\s/m.exec(limits);
  if (!match) return undefined;
  return match[1] === 'unlimited' ? Number.POSITIVE_INFINITY : Number(match[1]);
}

/** A process's soft open-files limit (0 when it is gone). */
export async function nofileSoft(pid: number): Promise<number> {
  try {
    return parseNofileSoft(await readFile(`/proc/${pid}/limits`, 'utf8')) ?? 0;
  } catch {
    return 0;
  }
}
