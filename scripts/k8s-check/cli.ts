/**
 * `node --import tsx scripts/k8s-check/cli.ts OVERLAY_DIR...`: render and
 * validate each Kubernetes overlay offline (scripts/check.sh runs it for
 * every directory under k8s/overlays/). Prints the problems, one per line;
 * exits 1 when any overlay has one, 2 on bad usage.
 */
import { checkOverlay } from './check-overlay.ts';

const dirs = process.argv.slice(2);
if (dirs.length === 0) {
  process.stderr.write('usage: node --import tsx scripts/k8s-check/cli.ts OVERLAY_DIR...\n');
  process.exit(2);
}
let failed = false;
for (const dir of dirs) {
  const report = await checkOverlay(dir);
  if (report.problems.length === 0) {
    process.stdout.write(`${dir}: ${report.objects} objects, schema + strict keys + rules OK\n`);
  } else {
    failed = true;
    process.stdout.write(`${dir}: ${report.problems.length} problem(s)\n${report.problems.map((problem) => `  ${problem}`).join('\n')}\n`);
  }
}
process.exit(failed ? 1 : 0);
