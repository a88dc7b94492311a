import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { describe, it } from 'node:test';
import { createLogger } from './logger.ts';

function capture(): { stream: Writable; lines: () => Array<Record<string, unknown>> } {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk, _encoding, callback) {
      chunks.push(String(chunk));
      callback();
    },
  });
  return {
    stream,
    lines: () =>
      chunks
        .join('')
        .split('\n')
        .filter(Boolean)
        .map((line) => JSON.parse(line) as Record<string, unknown>),
  };
}

describe('createLogger', () => {
  it('puts the replica id on every line, child loggers included', () => {
    const out = capture();
    const logger = createLogger({ level: 'info', replica: 'replica-7' }, out.stream);
    logger.info('one');
    logger.child({ socket: 'abc' }).warn({ extra: 1 }, 'two');
    logger.debug('filtered out by level');
    const lines = out.lines();
    assert.equal(lines.length, 2);
    for (const line of lines) assert.equal(line.replica, 'replica-7');
    assert.equal(lines[1]?.socket, 'abc');
    assert.equal(typeof lines[0]?.time, 'string', 'ISO timestamps');
  });

  it('is silent at level silent', () => {
    const out = capture();
    createLogger({ level: 'silent', replica: 'r' }, out.stream).error('nothing');
    assert.equal(out.lines().length, 0);
  });
});
