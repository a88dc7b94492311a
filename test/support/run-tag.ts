import { readdirSync, readFileSync } from 'node:fs';

/**
 * Pids of live processes whose environment carries WSK_RUN_ID=<tag>: how a
 * test proves that nothing a runner started outlived it.
 */
export function pidsTagged(tag: string): number[] {
  const needle = `WSK_RUN_ID=${tag}`;
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const environ = readFileSync(`/proc/${entry}/environ`, 'utf8');
      if (environ.split('\0').includes(needle)) {
        // A zombie still has /proc/PID but no environment worth counting.
        const status = readFileSync(`/proc/${entry}/status`, 'utf8');
        if (!/^State:\s+Z/m.test(status)) pids.push(Number(entry));
      }
    } catch {
      // Gone while we looked, or not ours to read.
    }
  }
  return pids;
}
