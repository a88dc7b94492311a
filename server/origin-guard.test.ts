import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import { describe, it } from 'node:test';
import { engineVersionGuard } from './engine-version-guard.ts';
import { isSameOrigin, originGuard } from './origin-guard.ts';

const request = (headers: Record<string, string>) => ({ headers }) as unknown as IncomingMessage;

describe('originGuard', () => {
  const sameOriginOnly = originGuard([]);

  it('lets non-browser clients (no Origin header) through', () => {
    assert.equal(sameOriginOnly(request({ host: 'chat.example:8080' })), undefined);
  });

  it('lets a page of the same origin through, default ports and case aside', () => {
    for (const [origin, host] of [
      ['http://chat.example:8080', 'chat.example:8080'],
      ['https://chat.example', 'chat.example'],
      ['https://chat.example', 'chat.example:443'],
      ['http://CHAT.example', 'chat.EXAMPLE:80'],
      ['http://127.0.0.1:8080', '127.0.0.1:8080'],
      ['http://[::1]:3000', '[::1]:3000'],
    ]) {
      assert.equal(sameOriginOnly(request({ origin: origin!, host: host! })), undefined, `${origin} on ${host}`);
    }
  });

  it('uses the first X-Forwarded-Host when a proxy set one', () => {
    const req = request({ origin: 'https://chat.example', host: 'server:3000', 'x-forwarded-host': 'chat.example, lb.internal' });
    assert.equal(sameOriginOnly(req), undefined);
    assert.equal(isSameOrigin('https://chat.example', request({ host: 'server:3000' })), false);
  });

  it('refuses other origins, other ports, the opaque origin "null", garbage, and a missing Host', () => {
    for (const [origin, host] of [
      ['http://evil.example', 'chat.example'],
      ['http://chat.example:8081', 'chat.example:8080'],
      ['http://chat.example.evil.example', 'chat.example'],
      ['null', 'chat.example'],
      ['chat.example', 'chat.example'],
      ['file:///etc/passwd', 'chat.example'],
      ['http://chat.example', ''],
    ]) {
      const refusal = sameOriginOnly(request({ origin: origin!, host: host! }));
      assert.equal(refusal?.status, 403, `${origin} on ${host}`);
      assert.equal(refusal?.code, 4, `${origin} on ${host}: engine.io's FORBIDDEN`);
      assert.match(refusal?.message ?? '', /^origin ".*" is not allowed/, `${origin} on ${host}`);
    }
  });

  it('lets exactly the configured origins through, or every origin with "*"', () => {
    const listed = originGuard(['https://app.example', 'https://admin.example']);
    assert.equal(listed(request({ origin: 'https://admin.example', host: 'api.example' })), undefined);
    assert.notEqual(listed(request({ origin: 'https://evil.example', host: 'api.example' })), undefined);
    assert.notEqual(listed(request({ origin: 'https://app.example:444', host: 'api.example' })), undefined);
    assert.equal(originGuard(['*'])(request({ origin: 'https://evil.example', host: 'api.example' })), undefined);
  });

  it('does not echo an unbounded Origin back', () => {
    const refusal = sameOriginOnly(request({ origin: `http://${'x'.repeat(5000)}.example`, host: 'a' }));
    assert.ok(refusal !== undefined);
    assert.ok(refusal.message.length < 300, `${refusal.message.length} characters`);
  });
});

describe('engineVersionGuard', () => {
  const at = (url: string) => ({ url, headers: {} }) as unknown as IncomingMessage;

  it('lets EIO=4 through and refuses every other version, a missing one, and a mixed pair with engine.io\'s own 400 code 5', () => {
    assert.equal(engineVersionGuard(at('/socket.io/?EIO=4&transport=websocket')), undefined);
    assert.equal(engineVersionGuard(at('/socket.io/?EIO=4&EIO=4&transport=polling')), undefined);
    for (const query of ['EIO=3', 'EIO=5', 'EIO=', 'EIO=4.0', 'EIO=abc', '', 'EIO=4&EIO=3', 'EIO=3&EIO=4']) {
      assert.deepEqual(
        engineVersionGuard(at(`/socket.io/?${query}&transport=polling`)),
        { status: 400, code: 5, message: 'Unsupported protocol version' },
        query,
      );
    }
  });
});
