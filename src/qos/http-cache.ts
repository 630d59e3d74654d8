// `qos/http-cache` (backend): the "Caching Strategies" page. Backend responses to GET/HEAD are kept
// in memory for as long as their `Cache-Control` (s-maxage, max-age) or `Expires` allow, keyed by
// the URL sent to the backend and checked against its `Vary` headers. gw behaves as the shared
// cache it is: it never stores `private`, `no-store`, `no-cache`, Set-Cookie or error responses,
// nor answers to requests carrying Authorization unless the response says `public`/`s-maxage`.
// Clients may send `max-age`, `min-fresh`, `max-stale`, `no-cache`, `no-store`, `only-if-cached`
// and `stale-if-error` when the endpoint forwards Cache-Control (input_headers).
//
// Memory: an LRU (lru-cache) bounded by `max_items` and by `max_size` bytes; without them gw
// still bounds it (10,000 entries, 256 MiB) rather than letting a backend exhaust the host.
// `shared: true` uses one bucket per worker thread for all backends that set it (the key then
// includes the host list); otherwise each backend has its own.

import { LRUCache } from 'lru-cache';
import { getDecoder } from '../proxy/encodings.js';
import {
  BackendError,
  type BackendMiddleware,
  type BackendRequest,
  type BackendResponse,
  type CompileContext,
  type ConfigIssue,
  type FeatureModule,
  type ResponseHeaders,
} from '../types.js';
import { Issues, isObject } from './util.js';

export const HTTP_CACHE_NAMESPACE = 'qos/http-cache';

export const DEFAULT_MAX_ITEMS = 10_000;
export const DEFAULT_MAX_SIZE = 256 * 1024 * 1024;
const CACHEABLE_STATUS = new Set([200, 203, 204]);

interface Entry {
  status: number;
  headers: ResponseHeaders;
  body: Buffer;
  hadData: boolean;
  /** Date.now() when stored, minus the Age the response already had. */
  bornAt: number;
  /** Freshness lifetime in ms. */
  lifetimeMs: number;
  /** Response stale-if-error window in ms (0: none). */
  staleIfErrorMs: number;
  varyNames: string[];
  varyValues: string[];
  size: number;
}

function newLru(maxItems: number, maxSize: number): LRUCache<string, Entry> {
  return new LRUCache<string, Entry>({ max: maxItems, maxSize, sizeCalculation: (e) => e.size });
}

/** Parsed Cache-Control: directive → value ('' when it has none). */
export function parseCacheControl(value: string | string[] | undefined): Map<string, string> {
  const out = new Map<string, string>();
  if (value === undefined) return out;
  for (const part of (Array.isArray(value) ? value.join(',') : value).split(',')) {
    const eq = part.indexOf('=');
    const name = (eq < 0 ? part : part.slice(0, eq)).trim().toLowerCase();
    if (name === '') continue;
    let v = eq < 0 ? '' : part.slice(eq + 1).trim();
    if (v.startsWith('"') && v.endsWith('"') && v.length >= 2) v = v.slice(1, -1);
    if (!out.has(name)) out.set(name, v);
  }
  return out;
}

function seconds(v: string | undefined): number | undefined {
  if (v === undefined || !/^\d+$/.test(v)) return undefined;
  return Number(v) * 1000;
}

function single(h: string | string[] | undefined): string | undefined {
  return Array.isArray(h) ? h[0] : h;
}

/**
 * How long a response may be served from cache (ms), or undefined when it must not be stored.
 * `authorized`: the request carried Authorization (RFC 7234 §3.2).
 */
export function freshnessOf(
  res: { status: number; headers: ResponseHeaders },
  authorized: boolean,
  now: number,
): { lifetimeMs: number; ageMs: number; staleIfErrorMs: number } | undefined {
  if (!CACHEABLE_STATUS.has(res.status)) return undefined;
  const h = res.headers;
  if (h['set-cookie'] !== undefined) return undefined;
  const vary = single(h.vary);
  if (vary?.split(',').some((v) => v.trim() === '*')) return undefined;
  const cc = parseCacheControl(h['cache-control']);
  if (cc.has('no-store') || cc.has('private') || cc.has('no-cache')) return undefined;
  if (authorized && !cc.has('public') && !cc.has('s-maxage') && !cc.has('must-revalidate')) return undefined;
  let lifetimeMs = seconds(cc.get('s-maxage')) ?? seconds(cc.get('max-age'));
  const dateHeader = single(h.date);
  const date = dateHeader !== undefined ? Date.parse(dateHeader) : Number.NaN;
  if (lifetimeMs === undefined) {
    const expiresHeader = single(h.expires);
    if (expiresHeader === undefined) return undefined;
    const expires = Date.parse(expiresHeader);
    lifetimeMs = Number.isNaN(expires) ? 0 : expires - (Number.isNaN(date) ? now : date);
  }
  if (!(lifetimeMs > 0)) return undefined;
  const age = seconds(single(h.age)) ?? 0;
  const apparent = Number.isNaN(date) ? 0 : Math.max(0, now - date);
  return {
    lifetimeMs,
    ageMs: Math.max(age, apparent),
    staleIfErrorMs: seconds(cc.get('stale-if-error')) ?? 0,
  };
}

/** Canonical MIME header name, as BackendRequest headers are written (`Accept-Encoding`). */
function canonical(name: string): string {
  return name
    .trim()
    .toLowerCase()
    .replace(/(^|-)([a-z])/g, (_m, dash: string, c: string) => dash + c.toUpperCase());
}

function requestHeader(breq: BackendRequest, canonicalName: string): string | undefined {
  return breq.headers[canonicalName] ?? breq.headers[canonicalName.toLowerCase()];
}

function headersSize(h: ResponseHeaders): number {
  let n = 0;
  for (const k in h) {
    const v = h[k];
    n += k.length + (Array.isArray(v) ? v.reduce((s, x) => s + x.length, 0) : v.length);
  }
  return n;
}

function validate(raw: unknown, path: string): ConfigIssue[] {
  const v = new Issues(path);
  if (!isObject(raw)) {
    v.add('', 'expected an object like {"shared": false, "max_items": 100, "max_size": 128000000}');
    return v.list;
  }
  v.boolean(raw, 'shared');
  v.number(raw, 'max_items', { min: 1, max: 1e8, integer: true });
  v.number(raw, 'max_size', { min: 1024, max: 2 ** 42, integer: true });
  if ((raw.max_items === undefined) !== (raw.max_size === undefined))
    v.add(
      raw.max_items === undefined ? 'max_items' : 'max_size',
      'max_items and max_size go together: set both or neither',
    );
  return v.list;
}

/** One LRU per worker for every `shared: true` backend (sized by the first that sets bounds). */
let sharedLru: LRUCache<string, Entry> | undefined;

function backend(raw: unknown, ctx: CompileContext): BackendMiddleware | undefined {
  const cfg = isObject(raw) ? raw : {};
  const bounded = typeof cfg.max_items === 'number' && typeof cfg.max_size === 'number';
  const maxItems = bounded ? (cfg.max_items as number) : DEFAULT_MAX_ITEMS;
  const maxSize = bounded ? (cfg.max_size as number) : DEFAULT_MAX_SIZE;
  const shared = cfg.shared === true;
  let lru: LRUCache<string, Entry>;
  let prefix = '';
  if (shared) {
    sharedLru ??= newLru(maxItems, maxSize);
    lru = sharedLru;
    const hosts =
      ctx.backend?.host && ctx.backend.host.length > 0 ? ctx.backend.host : (ctx.service.host ?? []);
    prefix = `${hosts.join(',')} `;
  } else {
    lru = newLru(maxItems, maxSize);
  }
  const decode = getDecoder(ctx.backend?.encoding ?? 'json') ?? getDecoder('json');
  const isCollection = ctx.backend?.is_collection === true;

  const fromEntry = (e: Entry, now: number): BackendResponse => {
    const headers: ResponseHeaders = { ...e.headers, age: String(Math.floor((now - e.bornAt) / 1000)) };
    const res: BackendResponse = { status: e.status, headers, body: e.body };
    if (e.hadData && decode) res.data = decode(e.body, isCollection);
    return res;
  };

  const store = (key: string, breq: BackendRequest, res: BackendResponse, now: number) => {
    const fresh = freshnessOf(res, requestHeader(breq, 'Authorization') !== undefined, now);
    if (!fresh) return;
    const varyHeader = single(res.headers.vary);
    const varyNames = varyHeader
      ? varyHeader
          .split(',')
          .map(canonical)
          .filter((n) => n !== '')
      : [];
    const size = res.body.length + headersSize(res.headers) + key.length + 128;
    if (size > maxSize) return;
    lru.set(key, {
      status: res.status,
      headers: res.headers,
      body: res.body,
      hadData: res.data !== undefined,
      bornAt: now - fresh.ageMs,
      lifetimeMs: fresh.lifetimeMs,
      staleIfErrorMs: fresh.staleIfErrorMs,
      varyNames,
      varyValues: varyNames.map((n) => requestHeader(breq, n) ?? ''),
      size,
    });
  };

  return (next) => async (breq) => {
    if (breq.method !== 'GET' && breq.method !== 'HEAD') return next(breq);
    const key = `${prefix}${breq.method} ${breq.path}`;
    const reqCc = requestHeader(breq, 'Cache-Control');
    const directives = reqCc === undefined ? undefined : parseCacheControl(reqCc);
    if (directives?.has('no-store')) return next(breq);
    const now = Date.now();
    let entry = lru.get(key);
    if (entry) {
      for (let i = 0; i < entry.varyNames.length; i++) {
        if ((requestHeader(breq, entry.varyNames[i]) ?? '') !== entry.varyValues[i]) {
          entry = undefined;
          break;
        }
      }
    }
    if (entry) {
      const age = now - entry.bornAt;
      let usable = age < entry.lifetimeMs;
      if (directives) {
        if (directives.has('no-cache')) usable = false;
        const maxAge = seconds(directives.get('max-age'));
        if (maxAge !== undefined && age > maxAge) usable = false;
        const minFresh = seconds(directives.get('min-fresh'));
        if (minFresh !== undefined && entry.lifetimeMs - age < minFresh) usable = false;
        if (!usable && directives.has('max-stale') && !directives.has('no-cache')) {
          const maxStale = seconds(directives.get('max-stale'));
          if (maxStale === undefined || age - entry.lifetimeMs <= maxStale)
            usable = maxAge === undefined || age <= maxAge;
        }
      }
      if (usable) return fromEntry(entry, now);
    } else if (directives?.has('only-if-cached')) {
      throw new BackendError('not in cache (only-if-cached)', 504);
    }
    let res: BackendResponse;
    try {
      res = await next(breq);
    } catch (err) {
      // stale-if-error: a stale copy beats an error, within the window either side allows.
      if (entry) {
        const staleness = Date.now() - entry.bornAt - entry.lifetimeMs;
        const window = Math.max(entry.staleIfErrorMs, seconds(directives?.get('stale-if-error')) ?? 0);
        if (staleness <= window) return fromEntry(entry, Date.now());
      }
      throw err;
    }
    store(key, breq, res, Date.now());
    return res;
  };
}

export const httpCacheModule: FeatureModule = {
  namespace: HTTP_CACHE_NAMESPACE,
  schema: { type: 'object' },
  validate,
  backend,
  bytesOnly: true,
};
