#!/usr/bin/env python3
# Why: the npm registry reachable here serves only the linux builds of
# @biomejs/cli-*, so `npm install` writes a lock without the other platforms'
# optional binaries and `npm ci` then refuses the lock ("Missing: … from lock
# file"). Run this after any `npm install` that rewrites package-lock.json:
#   python3 scripts/lock-biome-platforms.py package-lock.json
# npm skips these entries by os/cpu/libc; on a real macOS/Windows machine it
# fetches them from the public registry as usual.
# Adds lockfile entries for Biome's platform binaries that the registry mirror here lacks,
# so `npm ci` accepts the lock (npm skips them on this platform by os/cpu/libc).
import json, sys
path = sys.argv[1] if len(sys.argv) > 1 else 'package-lock.json'
lock = json.load(open(path))
pkgs = lock['packages']
biome = pkgs['node_modules/@biomejs/biome']
meta = {
  'cli-android-arm64': (['android'], ['arm64'], None),
  'cli-android-x64': (['android'], ['x64'], None),
  'cli-darwin-arm64': (['darwin'], ['arm64'], None),
  'cli-darwin-x64': (['darwin'], ['x64'], None),
  'cli-linux-arm64': (['linux'], ['arm64'], ['glibc']),
  'cli-linux-arm64-musl': (['linux'], ['arm64'], ['musl']),
  'cli-linux-x64': (['linux'], ['x64'], ['glibc']),
  'cli-linux-x64-musl': (['linux'], ['x64'], ['musl']),
  'cli-win32-arm64': (['win32'], ['arm64'], None),
  'cli-win32-x64': (['win32'], ['x64'], None),
}
added = []
for name, version in biome['optionalDependencies'].items():
    key = 'node_modules/' + name
    if key in pkgs: continue
    os_, cpu, libc = meta[name.split('/')[1]]
    entry = {'version': version, 'cpu': cpu, 'dev': True, 'license': 'MIT OR Apache-2.0', 'optional': True, 'os': os_}
    if libc: entry['libc'] = libc
    entry['engines'] = {'node': '>=14.21.3'}
    pkgs[key] = dict(sorted(entry.items()))
    added.append(name)
lock['packages'] = dict(sorted(pkgs.items(), key=lambda kv: (kv[0] != '', kv[0])))
json.dump(lock, open(path, 'w'), indent=2)
open(path, 'a').write('\n')
print('added', added)
