import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type BackgroundCommand, spawnBackground, waitForOutput } from './background-command.ts';

/** A command whose output and liveness the test scripts. */
function scripted(outputs: string[], exitAfter = Number.POSITIVE_INFINITY): BackgroundCommand {
  let reads = 0;
  return {
    get running() {
      return reads < exitAfter;
    },
    output: () => outputs[Math.min(reads++, outputs.length - 1)] ?? '',
    describeExit: () => (reads < exitAfter ? 'still running' : 'exited with code 1'),
    stop: async () => undefined,
  };
}

describe('waitForOutput', () => {
  it('resolves with the match once the line appears', async () => {
    const match = await waitForOutput(scripted(['', 'Forwarding from 127.0.0.1:40111 -> 8080\n']), /127\.0\.0\.1:(\d+)/, { what: 'forward', timeoutMs: 1_000, intervalMs: 1 });
    assert.equal(match[1], '40111');
  });

  it('fails at once when the command exits first, with its output', async () => {
    const started = Date.now();
    await assert.rejects(
      waitForOutput(scripted(['error: unable to forward port'], 1), /Forwarding/, { what: 'forward', timeoutMs: 10_000, intervalMs: 1 }),
      /forward: the command exited with code 1 first: error: unable to forward port/,
    );
    assert.ok(Date.now() - started < 1_000);
  });

  it('fails at the deadline with the output so far', async () => {
    await assert.rejects(waitForOutput(scripted(['Handling connection']), /Forwarding/, { what: 'forward', timeoutMs: 30, intervalMs: 5 }), /timed out after 30 ms waiting for forward; output so far: Handling connection/);
  });

  it('runs a real process and stops it', async () => {
    const command = spawnBackground(process.execPath, ['-e', 'console.log("ready"); setInterval(() => {}, 1000)'], { name: 'ready-printer' });
    try {
      await waitForOutput(command, /ready/, { what: 'the child', timeoutMs: 10_000 });
      assert.equal(command.running, true);
    } finally {
      await command.stop();
    }
    assert.equal(command.running, false);
  });
});
