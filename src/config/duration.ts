// Go's time.ParseDuration, as KrakenD reads every duration field ("300ms", "1m30s", "2h").
// Negative durations are refused: no KrakenD setting means anything with them.

const UNIT_MS: Record<string, number> = {
  ns: 1e-6,
  us: 1e-3,
  µs: 1e-3, // U+00B5 micro sign
  μs: 1e-3, // U+03BC Greek mu
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
};

const TERM = /(\d*)(?:\.(\d*))?([a-zµμ]+)/y;

/**
 * Milliseconds (fractional allowed) of a Go duration string, as time.ParseDuration reads it:
 * signed, no white space; undefined when invalid. For the few fields where a negative means
 * something (security/cors max_age).
 */
export function parseGoDuration(s: string): number | undefined {
  if (typeof s !== 'string' || s.length === 0) return undefined;
  let i = 0;
  let sign = 1;
  if (s[0] === '+' || s[0] === '-') {
    if (s[0] === '-') sign = -1;
    i = 1;
  }
  const body = s.slice(i);
  if (body === '0') return 0;
  if (body.length === 0) return undefined;
  let total = 0;
  let pos = 0;
  while (pos < body.length) {
    TERM.lastIndex = pos;
    const m = TERM.exec(body);
    if (!m || m.index !== pos) return undefined;
    const [whole, intPart, fracPart, unit] = m;
    if (intPart === '' && (fracPart === undefined || fracPart === '')) return undefined;
    const factor = UNIT_MS[unit];
    if (factor === undefined) return undefined;
    const value = Number(`${intPart || '0'}.${fracPart || '0'}`);
    total += value * factor;
    pos += whole.length;
  }
  return Number.isFinite(total) ? sign * total : undefined;
}

/** Milliseconds (fractional allowed) of a Go duration string; undefined when invalid or negative. */
export function parseDuration(s: string): number | undefined {
  if (typeof s === 'string' && s[0] === '-') return s === '-0' ? 0 : undefined;
  return parseGoDuration(s);
}

/** Go's Duration.String() for a millisecond amount (used by `gw check -d`). */
export function formatDuration(ms: number): string {
  if (ms === 0) return '0s';
  if (ms < 1) {
    const ns = Math.round(ms * 1e6);
    return ns < 1000 ? `${ns}ns` : `${trim(ns / 1000)}µs`;
  }
  if (ms < 1000) return `${trim(ms)}ms`;
  let rest = ms / 1000;
  let out = '';
  const h = Math.floor(rest / 3600);
  if (h > 0) {
    out += `${h}h`;
    rest -= h * 3600;
  }
  const m = Math.floor(rest / 60);
  if (h > 0 || m > 0) {
    out += `${m}m`;
    rest -= m * 60;
  }
  return `${out}${trim(rest)}s`;
}

function trim(n: number): string {
  return String(Number(n.toFixed(9)));
}
