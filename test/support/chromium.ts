import { existsSync } from 'node:fs';
import { type Browser, chromium } from 'playwright-core';

/** Debian's Chromium (`apt-get install -y chromium`; `make setup` installs it as root), or WSK_CHROMIUM. */
export const CHROMIUM = process.env.WSK_CHROMIUM ?? '/usr/bin/chromium';

/** Flags every browser test needs: headless, no sandbox (root in CI), no GPU, no QUIC, no first-run or background traffic. */
const BASE_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/**
 * Chromium with a fresh temporary profile per launch (playwright-core, no
 * browser download). Throws a message saying how to get Chromium when it is
 * missing: a browser test must fail loudly, never skip.
 */
export async function launchChromium(extraArgs: readonly string[] = []): Promise<Browser> {
  if (!existsSync(CHROMIUM)) {
    throw new Error(
      `browser tests need Chromium at ${CHROMIUM}: install it (Debian: apt-get install -y chromium; ` +
        '`make setup` does it when run as root) or point WSK_CHROMIUM at a Chromium binary',
    );
  }
  return chromium.launch({ executablePath: CHROMIUM, args: [...BASE_ARGS, ...extraArgs], timeout: 30_000 });
}
