import { parseDuration } from '../config/duration.js';
import type { GwResponse } from '../types.js';

/** The byte length of an answer's body. */
export function bodyBytes(body: GwResponse['body']): number {
  if (body === null) return 0;
  return typeof body === 'string' ? Buffer.byteLength(body) : body.length;
}

/** Duration field → ms; undefined when absent, invalid, or zero (zero means "use the default"). */
export function parseDurationMs(value: unknown): number | undefined {
  if (typeof value !== 'string' || value === '') return undefined;
  const ms = parseDuration(value);
  return ms === undefined || ms <= 0 ? undefined : ms;
}

/** KrakenD's host sanitizing: scheme added when missing, trailing slash removed. */
export function sanitizeHost(host: string): string {
  let h = host.trim();
  if (!/^[a-z][a-z0-9+.-]*:\/\//i.test(h)) h = `http://${h}`;
  while (h.endsWith('/')) h = h.slice(0, -1);
  return h;
}
