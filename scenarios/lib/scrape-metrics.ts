import { directGet, type HttpGet } from './http-get.ts';
import { parsePrometheusText, type Sample } from './prometheus-text.ts';

/** How long one scrape may take. */
export const SCRAPE_TIMEOUT_MS = 3000;

/** GET a Prometheus text endpoint and parse it; a non-2xx answer or a timeout throws with the URL. */
export async function scrapeMetrics(url: string, headers: Record<string, string> = {}, get: HttpGet = directGet): Promise<Sample[]> {
  const { status, body } = await get(url, { headers, timeoutMs: SCRAPE_TIMEOUT_MS });
  if (status < 200 || status > 299) throw new Error(`GET ${url} answered ${status}: ${body.slice(0, 200)}`);
  return parsePrometheusText(body);
}
