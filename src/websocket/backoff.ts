// The delay before the retry number `retry` (1, 2, …) of a lost WebSocket backend, per the
// `backoff_strategy` of the KrakenD WebSockets page ("Retries and backoff strategies"), in ms.

import type { BackoffStrategy } from './config.js';

/** Jitter: up to ±33 % of the delay, as the page says. */
function jitter(seconds: number): number {
  return seconds + seconds * 0.33 * (Math.random() * 2 - 1);
}

/** The longest wait between two dials (the page sets no bound; an exponential one needs one). */
export const MAX_BACKOFF_MS = 5 * 60_000;

export function backoffDelayMs(strategy: BackoffStrategy, retry: number): number {
  return Math.min(uncapped(strategy, retry), MAX_BACKOFF_MS);
}

function uncapped(strategy: BackoffStrategy, retry: number): number {
  switch (strategy) {
    case 'linear':
      return retry * 1000;
    case 'linear-jitter':
      return jitter(retry) * 1000;
    case 'exponential':
      return 2 ** Math.min(retry, 20) * 1000;
    case 'exponential-jitter':
      return jitter(2 ** Math.min(retry, 20)) * 1000;
    default:
      return 1000;
  }
}
