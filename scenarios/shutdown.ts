import { killAllManagedSync, stopAllManaged } from './lib/managed-process.ts';

/**
 * Make sure no process of the stack outlives the runner: on Ctrl-C / SIGTERM
 * run `cleanup` (bounded), stop every child still alive, exit 130/143; on any
 * exit, SIGKILL what is left. Returns a function that removes the handlers.
 */
export function installShutdown(cleanup: () => Promise<void>, log: (message: string) => void): () => void {
  let stopping = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (stopping) {
      log(`${signal} again: killing everything now`);
      killAllManagedSync();
      process.exit(signal === 'SIGINT' ? 130 : 143);
    }
    stopping = true;
    log(`${signal}: stopping the topology…`);
    const bound = setTimeout(() => killAllManagedSync(), 20_000);
    bound.unref();
    cleanup()
      .catch((error: unknown) => log(`cleanup failed: ${error instanceof Error ? error.message : String(error)}`))
      .then(() => stopAllManaged(2000))
      .finally(() => process.exit(signal === 'SIGINT' ? 130 : 143));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  process.on('exit', killAllManagedSync);
  return () => {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    process.off('exit', killAllManagedSync);
  };
}
