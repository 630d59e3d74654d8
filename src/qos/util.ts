// Config reading shared by the traffic-management modules: numbers and durations checked with
// their JSON path, so that `gw check` reports every bad limit at once and the factories can trust
// what they read.

import { parseDuration } from '../config/duration.js';
import { isObject, type Obj } from '../config/issues.js';
import type { ConfigIssue } from '../types.js';

export { isObject, type Obj };

/** Collects issues under one base path (`$.endpoints[0].extra_config["qos/…"]`). */
export class Issues {
  readonly list: ConfigIssue[] = [];
  constructor(readonly base: string) {}
  add(key: string, message: string): void {
    this.list.push({ path: key === '' ? this.base : `${this.base}.${key}`, message });
  }

  /**
   * An optional number in [min, max]; `allowZero` accepts 0 even when min > 0 (KrakenD's "0 means
   * no limit"). Non-numbers, NaN, ±Infinity (JSON's 1e999), negatives and absurd values are issues.
   */
  number(
    cfg: Obj,
    key: string,
    opts: { min: number; max: number; integer?: boolean; allowZero?: boolean },
  ): void {
    const v = cfg[key];
    if (v === undefined) return;
    const what = opts.integer ? 'an integer' : 'a number';
    const range = `${opts.allowZero ? `0 (no limit) or ` : ''}${what} from ${opts.min} to ${opts.max}`;
    if (typeof v !== 'number' || Number.isNaN(v))
      this.add(key, `expected ${range}, got ${JSON.stringify(v)}`);
    else if (opts.allowZero && v === 0) return;
    else if (!Number.isFinite(v) || v < opts.min || v > opts.max || (opts.integer && !Number.isInteger(v)))
      this.add(key, `expected ${range}, got ${v}`);
  }

  /** An optional Go duration string (or a number of seconds when `seconds`) in (0, maxMs]. */
  duration(cfg: Obj, key: string, maxMs: number, seconds = false): void {
    const v = cfg[key];
    if (v === undefined) return;
    const ms = durationMs(v, seconds);
    const expected = `expected a duration above 0 and up to ${maxMs / 3_600_000}h${seconds ? ' (seconds, or a string like "30s")' : ' like "1s", "5m", "1h"'}`;
    if (ms === undefined || ms <= 0) this.add(key, `${expected}, got ${JSON.stringify(v)}`);
    else if (ms > maxMs) this.add(key, `${expected}, got ${JSON.stringify(v)}`);
  }

  string(cfg: Obj, key: string, allowed?: readonly string[]): void {
    const v = cfg[key];
    if (v === undefined) return;
    if (typeof v !== 'string') this.add(key, `expected a string, got ${JSON.stringify(v)}`);
    else if (allowed && !allowed.includes(v))
      this.add(key, `expected one of ${allowed.join(', ')}, got ${JSON.stringify(v)}`);
  }

  boolean(cfg: Obj, key: string): void {
    const v = cfg[key];
    if (v !== undefined && typeof v !== 'boolean')
      this.add(key, `expected true or false, got ${JSON.stringify(v)}`);
  }
}

/** A duration field in ms: Go duration strings, or plain numbers of seconds when `seconds`. */
export function durationMs(v: unknown, seconds = false): number | undefined {
  if (typeof v === 'string') return parseDuration(v);
  if (seconds && typeof v === 'number' && Number.isFinite(v)) return v * 1000;
  return undefined;
}

export function num(cfg: Obj, key: string, fallback: number): number {
  const v = cfg[key];
  return typeof v === 'number' && Number.isFinite(v) ? v : fallback;
}

export const HOUR_MS = 3_600_000;
/** The longest `every` accepted: a year (KrakenD users express days as hours). */
export const MAX_EVERY_MS = 366 * 24 * HOUR_MS;
/** More than a billion requests per `every` is not a limit. */
export const MAX_RATE = 1e9;
export const MAX_CAPACITY = 1e9;
