// Builds the request one backend receives: forwarding rules of the "Parameter Forwarding" page
// (nothing forwarded by default, `*` for all), url_pattern filling, X-Forwarded-* headers.
// Everything is split and decided at compile time; per request only string joins remain.

import type { BackendConfig, EndpointConfig, GwRequest, HeaderMap } from '../types.js';
import { MissingVariableError } from './errors.js';

export const GW_VERSION = '0.1.0';

/** Go's textproto.CanonicalMIMEHeaderKey: `x-forwarded-for` → `X-Forwarded-For`. */
export function canonicalHeader(name: string): string {
  if (/[^A-Za-z0-9!#$%&'*+\-.^_`|~]/.test(name)) return name;
  let out = '';
  let upper = true;
  for (let i = 0; i < name.length; i++) {
    const c = name[i];
    out += upper ? c.toUpperCase() : c.toLowerCase();
    upper = c === '-';
  }
  return out;
}

const canonicalCache = new Map<string, string>();
function canonicalCached(lower: string): string {
  let c = canonicalCache.get(lower);
  if (c === undefined) {
    c = canonicalHeader(lower);
    if (canonicalCache.size < 4096) canonicalCache.set(lower, c);
  }
  return c;
}

const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'transfer-encoding',
  'te',
  'trailer',
  'upgrade',
  'host',
  'content-length',
  'proxy-authenticate',
  'proxy-authorization',
  'x-forwarded-for',
  'x-forwarded-host',
  'x-forwarded-via',
]);

/** A piece of a url_pattern: literal text or a variable filled per request. */
type Part =
  | { kind: 'text'; text: string }
  | { kind: 'param'; name: string }
  | { kind: 'resp'; index: number; path: string[]; raw: string }
  | { kind: 'jwt'; claim: string; raw: string }
  | { kind: 'header'; name: string; raw: string }
  | { kind: 'query'; name: string; position: number; raw: string };

const VAR = /\{([^{}]+)\}/g;
const RESP_VAR = /^resp(\d+)_(.+)$/;
const RESP_WHOLE = /^resp(\d+)$/;

function compileTemplate(template: string): Part[] {
  const parts: Part[] = [];
  let last = 0;
  for (const m of template.matchAll(VAR)) {
    const idx = m.index ?? 0;
    if (idx > last) parts.push({ kind: 'text', text: template.slice(last, idx) });
    last = idx + m[0].length;
    const name = m[1];
    const resp = RESP_VAR.exec(name);
    const respWhole = RESP_WHOLE.exec(name);
    // A value no answer gave stays as Lura's template key (config.go turns `{resp0_x}` into
    // `{{.Resp0_x}}`; request.go GeneratePath leaves a key it has no param for).
    if (resp)
      parts.push({
        kind: 'resp',
        index: Number(resp[1]),
        path: resp[2].split('.'),
        raw: `{{.Resp${resp[1]}_${resp[2]}}}`,
      });
    else if (respWhole)
      parts.push({ kind: 'resp', index: Number(respWhole[1]), path: [], raw: `{{.Resp${respWhole[1]}}}` });
    else if (name.startsWith('JWT.')) parts.push({ kind: 'jwt', claim: name.slice(4), raw: m[0] });
    else if (name.startsWith('input_headers.'))
      parts.push({ kind: 'header', name: name.slice('input_headers.'.length).toLowerCase(), raw: m[0] });
    else if (name.startsWith('input_query_strings.')) {
      const rest = name.slice('input_query_strings.'.length);
      const dot = rest.lastIndexOf('.');
      const pos = dot > 0 && /^\d+$/.test(rest.slice(dot + 1)) ? Number(rest.slice(dot + 1)) : 0;
      parts.push({
        kind: 'query',
        name: dot > 0 && pos >= 0 && /^\d+$/.test(rest.slice(dot + 1)) ? rest.slice(0, dot) : rest,
        position: pos,
        raw: m[0],
      });
    } else parts.push({ kind: 'param', name });
  }
  if (last < template.length) parts.push({ kind: 'text', text: template.slice(last) });
  return parts;
}

// `%` is escaped too: a value's `%2e%2e` must reach the backend as `%252e%252e`, never as an
// escape the backend would decode into a dot segment or a separator.
const NEEDS_ESCAPE = /[^A-Za-z0-9\-._~!$&'()*+,;=:@]/;

function pathEscape(v: string): string {
  return NEEDS_ESCAPE.test(v) ? encodeURIComponent(v) : v;
}

/** Go's fmt %v for JSON-decoded values, as KrakenD prints `{resp0_x}` (null → `<nil>`). */
export function goString(v: unknown): string {
  if (v === null || v === undefined) return '<nil>';
  if (typeof v === 'string') return v;
  if (typeof v === 'number') {
    if (Number.isInteger(v) && Math.abs(v) < 1e21) return Math.abs(v) >= 1e21 ? v.toExponential() : String(v);
    return String(v);
  }
  if (typeof v === 'boolean') return v ? 'true' : 'false';
  return JSON.stringify(v);
}

/** Values of previous responses for the sequential proxy, by backend index. */
export type SequentialValues = Array<Record<string, unknown> | string | undefined>;

/**
 * A previous answer's value as a sequential parameter, as Lura's sequential merger reads and
 * prints it (luraproject/lura proxy/merging.go, sequentialMerge): `resp0_a.b` walks the objects
 * of the path — stopping where one is missing or not an object, and then looking the last key up
 * where it stopped — and prints the value as Go's `%v` prints what `UseNumber` decoded: an
 * array's items joined by `,`, a number as the backend wrote it. `resp0` alone is a no-op
 * backend's whole body. Undefined when there is no such value.
 */
export function sequentialParam(
  values: SequentialValues | undefined,
  index: number,
  path: string[],
): string | undefined {
  const v = values?.[index];
  if (v === undefined) return undefined;
  if (path.length === 0) return typeof v === 'string' ? v : JSON.stringify(v);
  if (typeof v === 'string') return path.length === 1 && path[0] === 'content' ? v : undefined;
  let data = v as Record<string, unknown>;
  for (let i = 0; i < path.length - 1; i++) {
    if (!Object.hasOwn(data, path[i])) break;
    const next = data[path[i]];
    if (next === null || typeof next !== 'object' || Array.isArray(next) || isRawNumber(next)) break;
    data = next as Record<string, unknown>;
  }
  const last = path[path.length - 1];
  if (!Object.hasOwn(data, last)) return undefined;
  const found = data[last];
  if (Array.isArray(found)) return found.map(goValue).join(',');
  return goValue(found);
}

/** A number kept as the backend wrote it (JSON.rawJSON), where the runtime has it. */
function isRawNumber(v: object): v is { rawJSON: string } {
  return typeof (JSON as { isRawJSON?: (v: unknown) => boolean }).isRawJSON === 'function'
    ? (JSON as unknown as { isRawJSON: (v: unknown) => boolean }).isRawJSON(v)
    : false;
}

/** Go's `%v` of a value `encoding/json` decoded with UseNumber (maps print with sorted keys). */
function goValue(v: unknown): string {
  if (v === null || v === undefined) return '<nil>';
  if (typeof v === 'string') return v;
  if (typeof v === 'number') return String(v);
  if (typeof v === 'boolean') return v ? 'true' : 'false';
  if (Array.isArray(v)) return `[${v.map(goValue).join(' ')}]`;
  if (typeof v === 'object') {
    if (isRawNumber(v)) return v.rawJSON;
    const o = v as Record<string, unknown>;
    const keys = Object.keys(o).sort();
    return `map[${keys.map((k) => `${k}:${goValue(o[k])}`).join(' ')}]`;
  }
  return String(v);
}

function queryValues(query: string, name: string): string[] {
  const out: string[] = [];
  if (query === '') return out;
  for (const pair of query.split('&')) {
    const eq = pair.indexOf('=');
    const k = safeDecodeQuery(eq < 0 ? pair : pair.slice(0, eq));
    if (k === name) out.push(safeDecodeQuery(eq < 0 ? '' : pair.slice(eq + 1)));
  }
  return out;
}

function safeDecodeQuery(s: string): string {
  if (!s.includes('%') && !s.includes('+')) return s;
  try {
    return decodeURIComponent(s.replace(/\+/g, ' '));
  } catch {
    return s;
  }
}

/** What a url_pattern may read of a request. */
type FillSource = Pick<GwRequest, 'params' | 'query' | 'headers' | 'claims' | 'wildcard'>;

function fill(parts: Part[], req: FillSource, seq: SequentialValues | undefined, inPath: boolean): string {
  let out = '';
  for (let i = 0; i < parts.length; i++) {
    const p = parts[i];
    switch (p.kind) {
      case 'text':
        out += p.text;
        break;
      case 'param': {
        const v = req.params[p.name];
        if (v === undefined) throw new MissingVariableError(`missing parameter {${p.name}}`);
        out += inPath ? pathEscape(v) : encodeURIComponent(v);
        break;
      }
      case 'resp': {
        const v = sequentialParam(seq, p.index, p.path);
        // Go's URL escapes the key's braces in a path and leaves a query as written.
        if (v === undefined) out += inPath ? encodeURI(p.raw) : p.raw;
        else out += inPath ? pathEscape(v) : encodeURIComponent(v);
        break;
      }
      case 'jwt': {
        const v = req.claims?.[p.claim];
        out += v === undefined ? p.raw : inPath ? pathEscape(goString(v)) : encodeURIComponent(goString(v));
        break;
      }
      case 'header': {
        const v = req.headers[p.name];
        if (v === undefined) throw new MissingVariableError(`missing header ${p.name}`);
        out += inPath ? pathEscape(v) : encodeURIComponent(v);
        break;
      }
      case 'query': {
        const v = queryValues(req.query, p.name)[p.position];
        if (v === undefined) throw new MissingVariableError(`missing query string ${p.name}`);
        out += inPath ? pathEscape(v) : encodeURIComponent(v);
        break;
      }
    }
  }
  return out;
}

export interface CompiledRequestBuilder {
  method: string;
  /** Whether the url_pattern reads previous responses (sequential proxy). */
  usesSequential: boolean;
  /** Path + query for this request. */
  path(req: FillSource, seq?: SequentialValues): string;
  /**
   * Whether the backend's headers must be built with `headers()` (client headers are forwarded);
   * false when a template may write them (only Content-Type and Host are read: backend-head.ts).
   */
  forwardsClientHeaders: boolean;
  /** Headers to send, canonical names. */
  headers(req: GwRequest): HeaderMap;
  /** The client's Accept-Encoding is forwarded: a compressed body may go back as is (no-op). */
  forwardsAcceptEncoding: boolean;
  /** The request headers `path` and `headers` read (lower-case names); null: every one (`*`). */
  reads: readonly string[] | null;
  /** The request headers `path` reads (`{input_headers.X}`), lower-case. */
  pathReads: readonly string[];
}

/** Filters the raw client query by an allow-list (exact, case-sensitive names). */
export function compileQueryFilter(list: string[] | undefined): ((query: string) => string) | null {
  if (!list || list.length === 0) return null;
  if (list.includes('*')) return (q) => q;
  const allowed = new Set(list);
  return (q) => {
    if (q === '') return '';
    let out = '';
    let start = 0;
    while (start <= q.length) {
      let end = q.indexOf('&', start);
      if (end < 0) end = q.length;
      const pair = q.slice(start, end);
      if (pair !== '') {
        const eq = pair.indexOf('=');
        const key = safeDecodeQuery(eq < 0 ? pair : pair.slice(0, eq));
        if (allowed.has(key)) out = out === '' ? pair : `${out}&${pair}`;
      }
      start = end + 1;
    }
    return out;
  };
}

export function compileRequestBuilder(
  endpoint: EndpointConfig,
  backend: BackendConfig,
  opts: { method: string; versionHeader: string },
): CompiledRequestBuilder {
  const pattern = backend.url_pattern ?? '/';
  const qIdx = pattern.indexOf('?');
  const pathParts = compileTemplate(qIdx < 0 ? pattern : pattern.slice(0, qIdx));
  const queryParts = qIdx < 0 ? null : compileTemplate(pattern.slice(qIdx + 1));
  const staticPath = pathParts.every((p) => p.kind === 'text')
    ? pathParts.map((p) => (p as { text: string }).text).join('')
    : null;
  const usesSequential = [...pathParts, ...(queryParts ?? [])].some((p) => p.kind === 'resp');
  const endpointQuery = compileQueryFilter(endpoint.input_query_strings);
  const backendQuery = compileQueryFilter(backend.input_query_strings);

  // A wildcard endpoint (`/v1/*`): the rest of the client's path follows the url_pattern's path,
  // joined by one `/` (the router refused any rest that could climb out of it).
  const wildcard = endpoint.endpoint.endsWith('/*');
  const joinsWithSlash = !(qIdx < 0 ? pattern : pattern.slice(0, qIdx)).endsWith('/');
  const path = (req: FillSource, seq?: SequentialValues): string => {
    let base = staticPath ?? fill(pathParts, req, seq, true);
    if (wildcard) {
      const rest = req.wildcard ?? '';
      if (rest !== '') base += joinsWithSlash ? `/${rest}` : rest;
    }
    let forwarded = '';
    if (endpointQuery && req.query !== '') {
      forwarded = endpointQuery(req.query);
      if (backendQuery && forwarded !== '') forwarded = backendQuery(forwarded);
    }
    // A client query (from input_query_strings) replaces the url_pattern's own query.
    if (forwarded !== '') return `${base}?${forwarded}`;
    if (queryParts) return `${base}?${fill(queryParts, req, seq, false)}`;
    return base;
  };

  const endpointHeaders = endpoint.input_headers ?? [];
  const backendHeaders = backend.input_headers;
  const all = endpointHeaders.includes('*');
  let allowed: string[] = all ? [] : endpointHeaders.map((h) => h.toLowerCase());
  let backendAll = true;
  let backendSet: Set<string> | null = null;
  if (backendHeaders && backendHeaders.length > 0 && !backendHeaders.includes('*')) {
    backendAll = false;
    backendSet = new Set(backendHeaders.map((h) => h.toLowerCase()));
    if (!all) allowed = allowed.filter((h) => backendSet!.has(h));
  }
  const allowedCanonical = allowed.map((h) => [h, canonicalHeader(h)] as const);
  const forwardsUserAgent = all
    ? backendSet === null || backendSet.has('user-agent')
    : allowed.includes('user-agent');
  const forwardsAcceptEncoding = all
    ? backendSet === null || backendSet.has('accept-encoding')
    : allowed.includes('accept-encoding');
  const userAgent = opts.versionHeader;

  const headers = (req: GwRequest): HeaderMap => {
    const h = req.headers;
    const out: HeaderMap = {};
    if (all) {
      for (const k in h) {
        if (HOP_BY_HOP.has(k)) continue;
        if (!backendAll && !backendSet!.has(k)) continue;
        out[canonicalCached(k)] = h[k];
      }
    } else {
      for (let i = 0; i < allowedCanonical.length; i++) {
        const v = h[allowedCanonical[i][0]];
        if (v !== undefined) out[allowedCanonical[i][1]] = v;
      }
      const ct = h['content-type'];
      if (ct !== undefined) out['Content-Type'] = ct;
    }
    if (!forwardsUserAgent || h['user-agent'] === undefined) out['User-Agent'] = userAgent;
    else out['X-Forwarded-Via'] = userAgent;
    if (!forwardsAcceptEncoding || h['accept-encoding'] === undefined) out['Accept-Encoding'] = 'gzip';
    out['X-Forwarded-For'] = req.clientIp;
    const host = h.host;
    if (host !== undefined) out['X-Forwarded-Host'] = host;
    const extra = req.extraBackendHeaders;
    if (extra) for (const k in extra) out[k] = extra[k];
    return out;
  };

  const forwardsClientHeaders = all || allowed.length > 0;
  const urlHeaders = [...pathParts, ...(queryParts ?? [])].flatMap((p) =>
    p.kind === 'header' ? [p.name] : [],
  );
  return {
    method: opts.method,
    usesSequential,
    path,
    forwardsClientHeaders,
    headers,
    forwardsAcceptEncoding,
    reads: all
      ? null
      : [...new Set([...allowed, ...urlHeaders, 'content-type', 'user-agent', 'accept-encoding', 'host'])],
    pathReads: [...new Set(urlHeaders)],
  };
}
