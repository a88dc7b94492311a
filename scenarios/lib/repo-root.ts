import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root, wherever the runner is started from (scenarios/lib/ is two levels down). */
export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
