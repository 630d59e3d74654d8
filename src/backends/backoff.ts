// The reconnection delays of KrakenD's `backoff_strategy` (lura backoff/backoff.go, GetByName):
// attempt `i` (0-based) waits linear i s, exponential 2^i s, their -jitter forms ±33 %, and any
// other name (or none) a constant 1 s. Exponential delays are capped at 2^16 s, where Go's shift
// would overflow long before an operator cared.

export type Backoff = (attempt: number) => number;

const SECOND = 1000;

function jitter(seconds: number): number {
  const ms = seconds * SECOND;
  const max = Math.floor(ms / 3) + 1;
  const out = ms + Math.floor(Math.random() * 2 * max) - max;
  return out <= 0 ? 1 : out;
}

export function backoffByName(strategy: unknown): Backoff {
  switch (typeof strategy === 'string' ? strategy.toLowerCase() : '') {
    case 'linear':
      return (i) => i * SECOND;
    case 'linear-jitter':
      return (i) => jitter(i);
    case 'exponential':
      return (i) => 2 ** Math.min(i, 16) * SECOND;
    case 'exponential-jitter':
      return (i) => jitter(2 ** Math.min(i, 16));
    default:
      return () => SECOND;
  }
}

export const BACKOFF_STRATEGIES = ['linear', 'linear-jitter', 'exponential', 'exponential-jitter'];
