import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CommandFailedError, createCommandRunner, formatArgv, runChecked } from './command-runner.ts';

describe('command runner', () => {
  it('formats argv as a shell would need it', () => {
    assert.equal(formatArgv('kubectl', ['exec', 'pod-a', '--', 'sh', '-c', "kill -s TERM -- -1"]), "kubectl exec pod-a -- sh -c 'kill -s TERM -- -1'");
  });

  it('names the executable, the argv, the exit and stderr when a command fails', async () => {
    const runner = createCommandRunner(process.execPath);
    await assert.rejects(runChecked(runner, 'node', ['-e', 'process.stderr.write("boom\\n"); process.exit(3)']), (error: unknown) => {
      assert.ok(error instanceof CommandFailedError);
      assert.equal(error.message, `\`node -e 'process.stderr.write("boom\\n"); process.exit(3)'\` exited with code 3: boom`);
      return true;
    });
    assert.equal(await runChecked(runner, 'node', ['-e', 'process.stdout.write("ok")']), 'ok');
  });
});
