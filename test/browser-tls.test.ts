/**
 * The demo page over HTTPS in a real browser (Debian's Chromium driven by
 * playwright-core): HAProxy terminates TLS with the run's throwaway
 * certificate in front of three local replicas.
 *
 * Chromium does not read a CA from a file; instead of turning certificate
 * errors off (which would prove nothing), it is told to accept exactly the
 * served certificate's public key (--ignore-certificate-errors-spki-list,
 * honoured with the private profile playwright gives every launch). Any
 * other certificate is still an error.
 *
 * Needs /usr/bin/chromium, as test/browser.test.ts (fails loudly without it).
 */
import assert from 'node:assert/strict';
import { createHash, X509Certificate } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { connect as tlsConnect } from 'node:tls';
import type { Browser } from 'playwright-core';
import { liveManagedCount } from '../scenarios/lib/managed-process.ts';
import { REPO_ROOT } from '../scenarios/lib/repo-root.ts';
import { LocalTopology } from '../scenarios/local/local-topology.ts';
import { launchChromium } from './support/chromium.ts';

const RESULTS_DIR = join(REPO_ROOT, 'test-results');
const WAIT_MS = 10_000;

let topology: LocalTopology | undefined;
let browser: Browser | undefined;

/** base64(sha256(SubjectPublicKeyInfo)) of the certificate `url` serves, verified against `ca`: Chromium's SPKI pin format. */
function servedSpki(url: string, ca: string): Promise<string> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = tlsConnect({ host: hostname, port: Number(port), ca });
    socket.setTimeout(5000, () => socket.destroy(new Error('no TLS handshake within 5 s')));
    socket.once('secureConnect', () => {
      const cert = new X509Certificate(socket.getPeerCertificate().raw);
      resolve(createHash('sha256').update(cert.publicKey.export({ type: 'spki', format: 'der' })).digest('base64'));
      socket.end();
    });
    socket.once('error', reject);
  });
}

async function cleanUp(): Promise<void> {
  await browser?.close().catch(() => undefined);
  browser = undefined;
  await topology?.down();
  topology = undefined;
}

before(async () => {
  try {
    await mkdir(RESULTS_DIR, { recursive: true });
    topology = await LocalTopology.up({ kind: 'local', proxy: 'haproxy', replicas: 3, adapter: 'redis', tls: true });
    const { proxyUrl, tlsCaPem } = topology.endpoints();
    assert.ok(tlsCaPem, 'a TLS topology hands out its CA');
    const spki = await servedSpki(proxyUrl, tlsCaPem);
    browser = await launchChromium([`--ignore-certificate-errors-spki-list=${spki}`]);
  } catch (error) {
    await cleanUp();
    throw error;
  }
});

after(async () => {
  await cleanUp();
  assert.equal(liveManagedCount(), 0, 'processes still running after the topology went down');
});

test('the demo works over https: wss:// upgrade, a Secure affinity cookie, plain http redirected', { timeout: 30_000 }, async () => {
  const { proxyUrl, plainProxyUrl } = topology!.endpoints();
  assert.match(proxyUrl, /^https:/);
  const context = await browser!.newContext({ viewport: { width: 1100, height: 860 } });
  try {
    const page = await context.newPage();
    const errors: string[] = [];
    page.on('pageerror', (error) => errors.push(error.message));
    // Typed at the plain address, as a person would: the proxy must send it to https.
    await page.goto(`${plainProxyUrl}/`);
    assert.equal(new URL(page.url()).origin, new URL(proxyUrl).origin, 'plain http landed on the https origin');
    await page.locator('#room-status', { hasText: 'In room' }).waitFor({ timeout: WAIT_MS });
    const replica = (await page.locator('#replica').textContent()) ?? '';
    assert.match(replica, /^replica-\d+$/);
    // The page's own socket: upgraded to the WebSocket (wss://), answered by its replica.
    let answer = { replica: '', transport: '' };
    for (let attempt = 0; attempt < 40 && answer.transport !== 'websocket'; attempt++) {
      answer = await page.evaluate(() => {
        const demo = (globalThis as unknown as { wskDemo: { socket: { timeout(ms: number): { emitWithAck(event: string): Promise<unknown> } } } }).wskDemo;
        return demo.socket.timeout(5000).emitWithAck('whoami') as Promise<{ replica: string; transport: string }>;
      });
      if (answer.transport !== 'websocket') await page.waitForTimeout(250);
    }
    assert.equal(answer.transport, 'websocket', 'the page upgraded to wss://');
    assert.equal(answer.replica, replica);
    const cookie = (await context.cookies(proxyUrl)).find((c) => c.name === 'WSKSRV');
    assert.ok(cookie, 'the browser holds the affinity cookie');
    assert.equal(cookie.secure, true, 'the affinity cookie is Secure');
    assert.equal(cookie.httpOnly, true, 'the affinity cookie is HttpOnly');
    assert.deepEqual(errors, [], 'no uncaught errors on the page');
    await page.screenshot({ path: join(RESULTS_DIR, 'demo-https.png') });
  } finally {
    await context.close();
  }
});
