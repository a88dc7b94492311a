/**
 * The demo page in a real browser (Debian's Chromium driven by
 * playwright-core) through HAProxy in front of three local replicas. Each
 * test leaves a screenshot in test-results/.
 *
 * Needs /usr/bin/chromium (`apt-get install -y chromium`; `make setup` does it
 * as root). Without it these tests fail, loudly: a browser test that skips
 * itself would let CI go green having tested nothing.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { liveManagedCount } from '../scenarios/lib/managed-process.ts';
import { REPO_ROOT } from '../scenarios/lib/repo-root.ts';
import { LocalTopology } from '../scenarios/local/local-topology.ts';
import { launchChromium } from './support/chromium.ts';

const RESULTS_DIR = join(REPO_ROOT, 'test-results');
/** Where the "other site" of the cross-origin test lives: another loopback address, so another origin. */
const FOREIGN_HOST = '127.0.9.1';
/** Contexts opened at most while looking for two that land on different replicas. */
const MAX_CONTEXTS = 6;
const WAIT_MS = 10_000;

let topology: LocalTopology | undefined;
let browser: Browser | undefined;
let foreign: Server | undefined;
const contexts = new Set<BrowserContext>();

async function cleanUp(): Promise<void> {
  await Promise.allSettled([...contexts].map((context) => context.close()));
  contexts.clear();
  await browser?.close().catch(() => undefined);
  browser = undefined;
  await new Promise<void>((resolve) => (foreign ? foreign.close(() => resolve()) : resolve()));
  foreign?.closeAllConnections();
  foreign = undefined;
  await topology?.down();
  topology = undefined;
}

before(async () => {
  try {
    await mkdir(RESULTS_DIR, { recursive: true });
    topology = await LocalTopology.up({ kind: 'local', proxy: 'haproxy', replicas: 3, adapter: 'redis' });
    browser = await launchChromium();
  } catch (error) {
    await cleanUp();
    throw error;
  }
});

after(async () => {
  await cleanUp();
  assert.equal(liveManagedCount(), 0, 'processes still running after the topology went down');
});

function proxyUrl(): string {
  if (!topology) throw new Error('topology is not up');
  return topology.endpoints().proxyUrl;
}

interface DemoTab {
  context: BrowserContext;
  page: Page;
  replica: string;
  /** Uncaught errors on the page; a clean page has none. */
  errors: string[];
  /** Polling responses that said "Session ID unknown" (what a lost affinity looks like). */
  sessionIdUnknown: number;
}

async function newContext(): Promise<BrowserContext> {
  if (!browser) throw new Error('browser is not running');
  // A new context is a new cookie jar: a new visitor as far as HAProxy knows.
  const context = await browser.newContext({ viewport: { width: 1100, height: 860 } });
  contexts.add(context);
  return context;
}

/** Open the demo in a new context and wait until it shows its replica and has joined its room. */
async function openDemo(query = ''): Promise<DemoTab> {
  const context = await newContext();
  const page = await context.newPage();
  const tab: DemoTab = { context, page, replica: '', errors: [], sessionIdUnknown: 0 };
  page.on('pageerror', (error) => tab.errors.push(error.message));
  page.on('response', (response) => {
    if (response.status() !== 400 || !response.url().includes('/socket.io/')) return;
    response.text().then(
      (body) => {
        if (body.includes('Session ID unknown')) tab.sessionIdUnknown += 1;
      },
      () => undefined,
    );
  });
  await page.goto(`${proxyUrl()}/${query}`);
  await page.locator('#room-status', { hasText: 'In room' }).waitFor({ timeout: WAIT_MS });
  tab.replica = (await page.locator('#replica').textContent()) ?? '';
  assert.match(tab.replica, /^replica-\d+$/, 'the page names its replica');
  return tab;
}

async function closeTab(tab: DemoTab): Promise<void> {
  contexts.delete(tab.context);
  await tab.context.close();
}

/** Ask the page's own socket `whoami` (the page exposes it as window.wskDemo.socket). */
function whoami(page: Page): Promise<{ ok: boolean; replica: string; transport: string; socket: string }> {
  return page.evaluate(() => {
    const demo = (globalThis as unknown as { wskDemo: { socket: { timeout(ms: number): { emitWithAck(event: string): Promise<unknown> } } } })
      .wskDemo;
    return demo.socket.timeout(5000).emitWithAck('whoami') as Promise<{ ok: boolean; replica: string; transport: string; socket: string }>;
  });
}

test('two tabs on different replicas chat with each other', { timeout: 30_000 }, async () => {
  const tabs: DemoTab[] = [];
  try {
    const first = await openDemo();
    tabs.push(first);
    let second: DemoTab | undefined;
    while (!second && tabs.length < MAX_CONTEXTS) {
      const tab = await openDemo();
      tabs.push(tab);
      if (tab.replica !== first.replica) second = tab;
    }
    assert.ok(second, `${MAX_CONTEXTS} contexts all landed on ${first.replica}: the proxy does not spread visitors`);

    // The cluster panel lists all three replicas.
    await second.page.locator('#replicas tr').nth(2).waitFor({ timeout: WAIT_MS });
    assert.equal(await second.page.locator('#replicas tr.mine td').first().textContent(), `${second.replica} (you)`);

    // Markup typed by a user must come out as text, never as elements.
    const text = `hello from ${first.replica} <b>not bold</b> ${Date.now()}`;
    await first.page.fill('#message', text);
    await first.page.press('#message', 'Enter');
    const received = second.page.locator('#messages li', { hasText: text });
    await received.waitFor({ timeout: WAIT_MS });
    assert.equal(await received.locator('.via').textContent(), `via ${first.replica}`);
    assert.equal(await second.page.locator('#messages b').count(), 0, 'user input rendered as HTML');
    // And the sender sees its own message, marked as its own.
    await first.page.locator('#messages li.own', { hasText: text }).waitFor({ timeout: WAIT_MS });

    await second.page.screenshot({ path: join(RESULTS_DIR, 'browser-chat-receiver.png'), fullPage: true });
    await first.page.screenshot({ path: join(RESULTS_DIR, 'browser-chat-sender.png'), fullPage: true });
    for (const tab of tabs) assert.deepEqual(tab.errors, [], 'errors on the page');
  } finally {
    await Promise.allSettled(tabs.map(closeTab));
  }
});

test('a polling-only tab keeps its replica for its whole session', { timeout: 30_000 }, async () => {
  const tab = await openDemo('?transports=polling');
  try {
    const start = await whoami(tab.page);
    assert.ok(start.ok);
    assert.equal(start.replica, tab.replica);
    // Spread over a few seconds on purpose: many separate polling requests,
    // each of which HAProxy must route by the cookie alone.
    for (let check = 0; check < 6; check++) {
      await sleep(500);
      const now = await whoami(tab.page);
      assert.deepEqual(
        [now.replica, now.transport, now.socket],
        [start.replica, 'polling', start.socket],
        `check ${check}: the session moved or changed transport`,
      );
    }
    assert.equal(await tab.page.locator('#transport').textContent(), 'polling');
    assert.equal(await tab.page.locator('#reconnections').textContent(), '0');
    assert.equal(tab.sessionIdUnknown, 0, '"Session ID unknown" responses');
    assert.deepEqual(tab.errors, [], 'errors on the page');
    await tab.page.screenshot({ path: join(RESULTS_DIR, 'browser-polling.png'), fullPage: true });
  } finally {
    await closeTab(tab);
  }
});

/** A page on another origin that tries to connect to the proxy with `transports`, and shows how it went. */
function foreignPage(target: string): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>another site</title>
<script src="/socket.io.min.js"></script></head>
<body><h1>another site</h1><p>Connecting to <code id="target"></code>…</p><ul id="results"></ul>
<script>
  document.getElementById('target').textContent = ${JSON.stringify(target)};
  const attempt = (transports) => new Promise((resolve) => {
    const socket = io(${JSON.stringify(target)}, { transports, reconnection: false, timeout: 5000, forceNew: true });
    const done = (outcome) => {
      socket.close();
      const item = document.createElement('li');
      item.textContent = transports.join('+') + ': ' + (outcome.connected ? 'CONNECTED' : 'refused (' + outcome.error + ')');
      document.getElementById('results').append(item);
      resolve({ transports: transports.join('+'), ...outcome });
    };
    socket.on('welcome', () => done({ connected: true }));
    socket.on('connect_error', (error) => done({ connected: false, error: error.message }));
  });
  window.outcomes = (async () => [await attempt(['polling', 'websocket']), await attempt(['websocket'])])();
</script></body></html>`;
}

async function startForeignSite(target: string): Promise<string> {
  const client = readFileSync(join(REPO_ROOT, 'node_modules/socket.io-client/dist/socket.io.min.js'));
  const page = foreignPage(target);
  foreign = createServer((req, res) => {
    if (req.url === '/socket.io.min.js') res.writeHead(200, { 'content-type': 'text/javascript' }).end(client);
    else res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(page);
  });
  const server = foreign;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: FOREIGN_HOST, port: 0 }, resolve);
  });
  return `http://${FOREIGN_HOST}:${(server.address() as AddressInfo).port}/`;
}

test('a page from another origin cannot connect, by polling or by WebSocket', { timeout: 30_000 }, async () => {
  const site = await startForeignSite(proxyUrl());
  const context = await newContext();
  try {
    const page = await context.newPage();
    await page.goto(site);
    const outcomes = (await page.evaluate(() => (globalThis as unknown as { outcomes: Promise<unknown> }).outcomes)) as Array<{
      transports: string;
      connected: boolean;
      error?: string;
    }>;
    await page.screenshot({ path: join(RESULTS_DIR, 'browser-foreign-origin.png'), fullPage: true });
    // Polling is stopped by the browser (no Access-Control-Allow-Origin) and by the
    // replicas' origin check; a WebSocket ignores CORS, so only the origin check stops it.
    for (const outcome of outcomes) {
      assert.equal(outcome.connected, false, `${outcome.transports} from ${site} connected`);
      assert.ok(outcome.error, `${outcome.transports}: connect_error with a message`);
    }
    assert.deepEqual(
      outcomes.map((o) => o.transports),
      ['polling+websocket', 'websocket'],
    );
  } finally {
    contexts.delete(context);
    await context.close();
  }
});

// Last: it takes a replica away from the topology the other tests share.
test('when its replica drains, the page follows its reconnection to another one', { timeout: 40_000 }, async () => {
  const tab = await openDemo('?room=drain-test');
  try {
    await topology!.kill(tab.replica, 'SIGTERM');
    await tab.page
      .locator('#room-status', { hasText: /In room “drain-test” on replica-\d+\./ })
      .and(tab.page.locator('#room-status', { hasNotText: tab.replica }))
      .waitFor({ timeout: WAIT_MS });
    const now = (await tab.page.locator('#replica').textContent()) ?? '';
    assert.notEqual(now, tab.replica, 'the page still names the drained replica');
    assert.equal(await tab.page.locator('#reconnections').textContent(), '1');
    assert.equal(await tab.page.locator('#status').textContent(), 'connected');
    assert.equal((await whoami(tab.page)).replica, now);
    assert.deepEqual(tab.errors, [], 'errors on the page');
    await tab.page.screenshot({ path: join(RESULTS_DIR, 'browser-reconnect.png'), fullPage: true });
  } finally {
    await closeTab(tab);
  }
});
