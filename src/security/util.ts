// Small helpers shared by the security and validation modules: config reading with JSON-path
// issues, Go-compatible formatting, claim navigation.

import { isObject, type Obj } from '../config/issues.js';
import type { ConfigIssue } from '../types.js';

export { isObject, type Obj };

export function isStringArray(v: unknown): v is string[] {
  return Array.isArray(v) && v.every((s) => typeof s === 'string');
}

/**
 * A namespace KrakenD CE reads in the root extra_config only (the endpoint level is an Enterprise
 * feature), found elsewhere: a warning, as `krakend run` starts and ignores it. None at the root.
 */
export function rootOnlyWarning(namespace: string, path: string): ConfigIssue | undefined {
  if (path.startsWith('$.extra_config')) return undefined;
  return {
    path,
    message: `${namespace} is read in the root extra_config only (ignored here, as in KrakenD CE)`,
    severity: 'warning',
  };
}

/** Collects config issues with their JSON path, so `validate()` can report them all at once. */
export class IssueList {
  readonly issues: ConfigIssue[] = [];
  constructor(readonly base: string) {}
  add(sub: string, message: string): void {
    this.issues.push({ path: sub === '' ? this.base : `${this.base}.${sub}`, message });
  }
  /** Checks an optional field's type; returns false (and records) when present with a wrong type. */
  type(
    cfg: Obj,
    key: string,
    kind: 'string' | 'boolean' | 'number' | 'integer' | 'string[]' | 'object' | 'array',
  ): boolean {
    const v = cfg[key];
    if (v === undefined) return true;
    let ok: boolean;
    switch (kind) {
      case 'string[]':
        ok = isStringArray(v);
        break;
      case 'integer':
        ok = typeof v === 'number' && Number.isInteger(v);
        break;
      case 'object':
        ok = isObject(v);
        break;
      case 'array':
        ok = Array.isArray(v);
        break;
      default:
        ok = typeof v === kind;
    }
    if (!ok)
      this.add(
        key,
        `expected ${kind === 'string[]' ? 'an array of strings' : `a${/^[aeiou]/.test(kind) ? 'n' : ''} ${kind}`}`,
      );
    return ok;
  }
}

// Go's textproto.CanonicalMIMEHeaderKey lives with the header forwarding it serves first.
export { canonicalHeader as canonicalHeaderName } from '../proxy/backend-request.js';

/** Go's `fmt.Sprintf("%v", float64)` (%g, shortest): exponent form below 1e-4 or from 1e6 (1e+06). */
export function goFloat(v: number): string {
  if (!Number.isFinite(v)) return v > 0 ? '+Inf' : v < 0 ? '-Inf' : 'NaN';
  if (v === 0) return Object.is(v, -0) ? '-0' : '0';
  const exp = Math.floor(Math.log10(Math.abs(v)));
  if (exp < -4 || exp >= 6) {
    const [mant, e] = v.toExponential().split('e');
    const n = Number(e);
    return `${mant}e${n < 0 ? '-' : '+'}${String(Math.abs(n)).padStart(2, '0')}`;
  }
  return String(v);
}

/** Go's `%v` for a JSON-decoded value, as KrakenD prints claims into headers. */
export function goValue(v: unknown): string {
  if (v === null || v === undefined) return '<nil>';
  if (typeof v === 'string') return v;
  if (typeof v === 'number') return goFloat(v);
  if (typeof v === 'boolean') return v ? 'true' : 'false';
  if (Array.isArray(v)) return `[${v.map(goValue).join(' ')}]`;
  return `map[${Object.keys(v as Obj)
    .sort()
    .map((k) => `${k}:${goValue((v as Obj)[k])}`)
    .join(' ')}]`;
}

/** Follows a dotted path into nested objects; undefined when a step is missing or not an object. */
export function nestedValue(root: Obj, path: readonly string[]): unknown {
  let cur: unknown = root;
  for (const seg of path) {
    if (!isObject(cur) || !Object.hasOwn(cur, seg)) return undefined;
    cur = cur[seg];
  }
  return cur;
}

const GO_HTML_ESCAPE = /[<>&\u2028\u2029]/g;
const GO_HTML_TEST = /[<>&\u2028\u2029]/;
function goString(s: string): string {
  const j = JSON.stringify(s);
  return GO_HTML_TEST.test(j)
    ? j.replace(GO_HTML_ESCAPE, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`)
    : j;
}

/** JSON as Go's encoding/json writes a decoded map: keys sorted at every level, <>& escaped. */
export function sortedJson(v: unknown): string {
  if (typeof v === 'string') return goString(v);
  if (Array.isArray(v)) return `[${v.map((x) => (x === undefined ? 'null' : sortedJson(x))).join(',')}]`;
  if (isObject(v)) {
    const keys = Object.keys(v)
      .filter((k) => v[k] !== undefined)
      .sort();
    return `{${keys.map((k) => `${goString(k)}:${sortedJson(v[k])}`).join(',')}}`;
  }
  return JSON.stringify(v) ?? 'null';
}

/** A fixed-size LRU of strings → values (Map keeps insertion order: delete + set = touch). */
export class SmallLru<V> {
  private readonly map = new Map<string, V>();
  constructor(private readonly max: number) {}
  get(key: string): V | undefined {
    const v = this.map.get(key);
    if (v !== undefined) {
      this.map.delete(key);
      this.map.set(key, v);
    }
    return v;
  }
  set(key: string, value: V): void {
    if (this.map.has(key)) this.map.delete(key);
    else if (this.map.size >= this.max) this.map.delete(this.map.keys().next().value as string);
    this.map.set(key, value);
  }
  get size(): number {
    return this.map.size;
  }
}

/** An empty response with a status, as gin's AbortWithStatus writes it. */
export function emptyResponse(status: number, headers: Record<string, string> = {}) {
  return { status, headers, body: null };
}
