import { parsePrometheusText, type Sample } from './prometheus-text.ts';

/** How long one scrape may take. */
export const SCRAPE_TIMEOUT_MS = 3000;

/** GET a Prometheus text endpoint and parse it; a non-2xx answer or a timeout throws with the URL. */
export async function scrapeMetrics(url: string, headers: Record<string, string> = {}): Promise<Sample[]> {
  const response = await fetch(url, { headers, signal: AbortSignal.timeout(SCRAPE_TIMEOUT_MS) });
  const body = await response.text();
  if (!response.ok) throw new Error(`GET ${url} answered ${response.status}: ${body.slice(0, 200)}`);
  return parsePrometheusText(body);
}
