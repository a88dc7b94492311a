/**
 * The NEGATIVE CONTROL for the affinity scenario: haproxy/haproxy.cfg minus
 * its cookie affinity. Derived from the real file (never a hand-written copy)
 * so the control differs from production in exactly these lines:
 *   - the `cookie WSKSRV insert … dynamic` lines are removed (one per TLS
 *     flavour, in `.if` blocks: plain, secure, secure + SameSite=None),
 *   - the `dynamic-cookie-key` line is removed,
 *   - `balance leastconn` becomes `balance roundrobin`, so consecutive
 *     long-polling requests of one session spread over the replicas and
 *     engine.io answers "Session ID unknown" (leastconn with idle replicas
 *     could keep sending one client to the same replica by chance).
 * Each expected line must be found exactly once (the cookie lines: 1 to 3),
 * or this throws: an edited
 * haproxy.cfg cannot silently turn the control into a test that cannot fail.
 */

export class CookieLessTransformError extends Error {
  readonly code = 'COOKIE_LESS_TRANSFORM';
  constructor(readonly problems: readonly string[]) {
    super(`cannot derive the cookie-less HAProxy config:\n  - ${problems.join('\n  - ')}`);
    this.name = 'CookieLessTransformError';
  }
}

// Directive lines only: leading whitespace, the keyword, then arguments.
// Comment lines (which mention these words) never match.
const COOKIE_LINE = /^[ \t]*cookie[ \t]+\S.*$/gm;
const DYNAMIC_KEY_LINE = /^[ \t]*dynamic-cookie-key[ \t]+\S.*$/gm;
const BALANCE_LINE = /^([ \t]*balance[ \t]+)(\S+)(.*)$/gm;

export function withoutCookieAffinity(configText: string): string {
  const problems: string[] = [];
  const expectOnce = (pattern: RegExp, what: string): void => {
    const count = configText.match(pattern)?.length ?? 0;
    if (count !== 1) problems.push(`expected exactly one ${what} line, found ${count}`);
  };
  const cookieLines = configText.match(COOKIE_LINE) ?? [];
  if (cookieLines.length < 1 || cookieLines.length > 3) {
    problems.push(`expected one to three \`cookie …\` lines (plain / secure / SameSite=None), found ${cookieLines.length}`);
  }
  expectOnce(DYNAMIC_KEY_LINE, '`dynamic-cookie-key …`');
  expectOnce(BALANCE_LINE, '`balance …`');
  for (const cookieLine of cookieLines) {
    if (!/\binsert\b/.test(cookieLine)) {
      problems.push(`the cookie line does not insert a cookie, so removing it proves nothing: "${cookieLine.trim()}"`);
    }
  }
  if (problems.length > 0) throw new CookieLessTransformError(problems);

  const marker = '    # NEGATIVE CONTROL: cookie affinity removed (scenarios/local/cookie-less.ts)';
  return configText
    .replace(COOKIE_LINE, marker)
    .replace(DYNAMIC_KEY_LINE, '    # (dynamic-cookie-key removed with it)')
    .replace(BALANCE_LINE, (_line, prefix: string, _algorithm: string, rest: string) => `${prefix}roundrobin${rest}`);
}
