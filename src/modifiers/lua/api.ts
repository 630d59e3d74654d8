// The objects a script reaches with request.load(), response.load() and ctx.load(), one class
// per layer, following the "Lua Scripting" page: getters return '' for what is absent (as Go
// does), setters are the same method with one more argument, and `nil` as a header value
// removes the header. Params are named with their first letter in upper case (`{user}` →
// `User`), as KrakenD does.

import { canonicalHeader } from '../../proxy/backend-request.js';
import type {
  BackendRequest,
  BackendResponse,
  GwRequest,
  HeaderMap,
  ProxyResponse,
  ResponseHeaders,
} from '../../types.js';
import { Op } from './prelude.js';
import { LuaBytes, type LuaView } from './vm.js';

export function capitalize(name: string): string {
  return name === '' ? name : name[0].toUpperCase() + name.slice(1);
}

/** Params as the script sees them: `{ User: 'alice' }`. */
function capitalizedParams(params: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const k in params) out[capitalize(k)] = params[k];
  return out;
}

/** Finds the endpoint's own name of a param written `User` (or `user`) in a script. */
function paramName(params: Record<string, string>, name: string): string {
  if (Object.hasOwn(params, name)) return name;
  for (const k in params) if (capitalize(k) === name || capitalize(k) === capitalize(name)) return k;
  return name;
}

function str(v: unknown): string | undefined {
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  return undefined;
}

function bodyBytes(v: unknown): Buffer | null {
  if (v === undefined || v === null) return null;
  if (v instanceof LuaBytes) return v.bytes;
  return Buffer.from(String(v), 'utf8');
}

/** A luaList or Lua array of header values → strings. */
function valueList(v: unknown): string[] | undefined {
  if (v === undefined || v === null) return undefined;
  if (Array.isArray(v)) return v.map((x) => (x === null ? '' : String(x)));
  return [String(v)];
}

/** Header map (one joined value per name) → the luaTable of luaLists KrakenD hands out. */
function headerTable(h: HeaderMap | ResponseHeaders, canonical: boolean): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const k in h) {
    const v = h[k];
    out[canonical ? canonicalHeader(k) : k] = Array.isArray(v) ? [...v] : [v];
  }
  return out;
}

/** header(name) or headerList(name) on a request's map of one joined value per name. */
function joinedHeaderValue(single: boolean, v: string | undefined): string | string[] {
  if (single) return v ?? '';
  return v === undefined ? [] : [v];
}

/**
 * The values a header setter was handed: header(name, value) one value, `nil` removing the
 * header (undefined); headerList(name, list) a list.
 */
function headerSetterValues(single: boolean, v: unknown): string[] | undefined {
  if (!single) return valueList(v);
  return v === undefined || v === null ? undefined : [String(v)];
}

/** Sets (or, with undefined, removes) a header in a map of one joined value per name. */
function setJoinedHeader(h: HeaderMap, name: string, values: string[] | undefined): void {
  if (values === undefined) delete h[name];
  else h[name] = values.join(', ');
}

export function splitPathQuery(url: string): { path: string; query: string } {
  const q = url.indexOf('?');
  return q < 0 ? { path: url, query: '' } : { path: url.slice(0, q), query: url.slice(q + 1) };
}

function decodeComponent(s: string): string {
  try {
    return decodeURIComponent(s.replace(/\+/g, ' '));
  } catch {
    return s;
  }
}

function queryGet(query: string, key: string): string {
  if (query === '') return '';
  for (const pair of query.split('&')) {
    const eq = pair.indexOf('=');
    if (decodeComponent(eq < 0 ? pair : pair.slice(0, eq)) === key)
      return decodeComponent(eq < 0 ? '' : pair.slice(eq + 1));
  }
  return '';
}

/** Sets (or with undefined removes) one query key, keeping the other pairs as they were. */
function querySet(query: string, key: string, value: string | undefined): string {
  const kept =
    query === ''
      ? []
      : query.split('&').filter((pair) => {
          const eq = pair.indexOf('=');
          return pair !== '' && decodeComponent(eq < 0 ? pair : pair.slice(0, eq)) !== key;
        });
  if (value !== undefined) kept.push(`${encodeURIComponent(key)}=${encodeURIComponent(value)}`);
  return kept.join('&');
}

/** Go's url.QueryEscape: all but letters, digits and `-_.~` escaped, a space as `+`. */
function goQueryEscape(s: string): string {
  return encodeURIComponent(s)
    .replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)
    .replace(/%20/g, '+');
}

/**
 * krakend-lua proxy/request.go query(): lura's parsed query written back by url.Values.Encode —
 * keys sorted, each value escaped; a pair url.ParseQuery refuses (a `;`, a bad escape) is gone.
 */
export function goEncodedQuery(query: string): string {
  if (query === '') return '';
  const values = new Map<string, string[]>();
  for (const pair of query.split('&')) {
    if (pair === '' || pair.includes(';')) continue;
    const eq = pair.indexOf('=');
    let key: string;
    let value: string;
    try {
      key = decodeURIComponent((eq < 0 ? pair : pair.slice(0, eq)).replace(/\+/g, ' '));
      value = eq < 0 ? '' : decodeURIComponent(pair.slice(eq + 1).replace(/\+/g, ' '));
    } catch {
      continue;
    }
    const list = values.get(key);
    if (list) list.push(value);
    else values.set(key, [value]);
  }
  const out: string[] = [];
  for (const key of [...values.keys()].sort())
    for (const v of values.get(key) as string[]) out.push(`${goQueryEscape(key)}=${goQueryEscape(v)}`);
  return out.join('&');
}

function stripQuestion(q: string): string {
  return q.startsWith('?') ? q.slice(1) : q;
}

/** Compile-time facts about the endpoint that the proxy-layer request needs. */
export interface EndpointFacts {
  /** Lower-case header names the endpoint forwards (null = all, `*`). */
  inputHeaders: Set<string> | null;
  /** Query keys the endpoint forwards (null = all). */
  inputQuery: Set<string> | null;
}

export function endpointFacts(
  inputHeaders: string[] | undefined,
  inputQuery: string[] | undefined,
): EndpointFacts {
  return {
    inputHeaders: inputHeaders?.includes('*')
      ? null
      : new Set((inputHeaders ?? []).map((h) => h.toLowerCase())),
    inputQuery: inputQuery?.includes('*') ? null : new Set(inputQuery ?? []),
  };
}

/**
 * `request` in modifier/lua-proxy: the request before it is split to the backends. Headers and
 * query are the ones the endpoint forwards; what the script sets reaches every backend.
 */
export class ProxyRequestView implements LuaView {
  private readonly headers: HeaderMap;
  private readonly added: HeaderMap = {};
  private removed: string[] | undefined;
  private params: Record<string, string>;
  private query: string;
  private body: Buffer | null;
  private method: string;
  private dirty = false;

  constructor(
    private readonly req: GwRequest,
    facts: EndpointFacts,
  ) {
    this.method = req.method;
    this.params = req.params;
    this.body = req.body;
    const h: HeaderMap = {};
    const allowed = facts.inputHeaders;
    for (const k in req.headers) if (allowed === null || allowed.has(k)) h[k] = req.headers[k];
    const extra = req.extraBackendHeaders;
    if (extra) for (const k in extra) h[k.toLowerCase()] = extra[k];
    this.headers = h;
    const allowedQuery = facts.inputQuery;
    this.query =
      allowedQuery === null || req.query === ''
        ? req.query
        : req.query
            .split('&')
            .filter((pair) => {
              const eq = pair.indexOf('=');
              return allowedQuery.has(decodeComponent(eq < 0 ? pair : pair.slice(0, eq)));
            })
            .join('&');
  }

  call(op: number, a: unknown[]): unknown {
    const n = a.length;
    switch (op) {
      case Op.reqMethod:
        if (n === 0) return this.method;
        this.method = String(a[0] ?? '').toUpperCase();
        this.dirty = true;
        return;
      case Op.reqPath:
        return n === 0 ? this.req.path : undefined;
      case Op.reqQuery:
        if (n === 0) return goEncodedQuery(this.query);
        this.query = stripQuestion(str(a[0]) ?? '');
        this.dirty = true;
        return;
      case Op.reqUrl:
        return n === 0 ? '' : undefined;
      case Op.reqParams: {
        if (n === 0) return capitalizedParams(this.params);
        const name = paramName(this.params, str(a[0]) ?? '');
        if (n === 1) return this.params[name] ?? '';
        this.params = { ...this.params, [name]: str(a[1]) ?? '' };
        this.dirty = true;
        return;
      }
      case Op.reqHeaders:
      case Op.reqHeaderList: {
        if (n === 0) return headerTable(this.headers, true);
        const lower = (str(a[0]) ?? '').toLowerCase();
        if (n === 1) return joinedHeaderValue(op === Op.reqHeaders, this.headers[lower]);
        this.setHeader(lower, headerSetterValues(op === Op.reqHeaders, a[1]));
        return;
      }
      case Op.reqBody:
        if (n === 0) return this.body === null ? '' : new LuaBytes(this.body);
        this.body = bodyBytes(a[0]);
        this.dirty = true;
        return;
      case Op.reqHost:
        return n === 0 ? (this.req.headers.host ?? '') : undefined;
    }
    return undefined;
  }

  private setHeader(lower: string, values: string[] | undefined): void {
    this.dirty = true;
    if (values === undefined) {
      delete this.headers[lower];
      delete this.added[canonicalHeader(lower)];
      this.removed ??= [];
      this.removed.push(lower);
      return;
    }
    const v = values.join(', ');
    this.headers[lower] = v;
    this.added[canonicalHeader(lower)] = v;
  }

  /** The request to pass on (the original one when the script changed nothing). */
  result(): GwRequest {
    if (!this.dirty) return this.req;
    let headers = this.req.headers;
    if (this.removed) {
      headers = { ...headers };
      for (const k of this.removed) delete headers[k];
    }
    let extra = this.req.extraBackendHeaders;
    if (Object.keys(this.added).length > 0 || this.removed) {
      extra = { ...(extra ?? {}) };
      for (const k of this.removed ?? []) delete extra[canonicalHeader(k)];
      Object.assign(extra, this.added);
    }
    return {
      ...this.req,
      method: this.method,
      params: this.params,
      query: this.query,
      body: this.body,
      headers,
      extraBackendHeaders: extra,
    };
  }
}

/**
 * A request a script changes in a copy, made at its first change: the original stays as it was.
 * method(), headers()/headerList() and body() behave the same on both such requests.
 */
abstract class CopyOnWriteView<R extends { method: string; headers: HeaderMap; body: Buffer | null }> {
  private copied = false;

  /**
   * True where `headers` is keyed in lower case (the client's request; headers() hands out Go's
   * canonical names), false where it is keyed by canonical names already (a backend request).
   */
  protected abstract readonly lowerCaseHeaders: boolean;

  constructor(protected req: R) {}

  /** A shallow copy, with its own copy of every map the setters write into. */
  protected abstract copy(req: R): R;

  protected callShared(op: number, a: unknown[]): unknown {
    const n = a.length;
    const req = this.req;
    switch (op) {
      case Op.reqMethod:
        if (n === 0) return req.method;
        this.own().method = String(a[0] ?? '').toUpperCase();
        return;
      case Op.reqHeaders:
      case Op.reqHeaderList: {
        if (n === 0) return headerTable(req.headers, this.lowerCaseHeaders);
        const name = str(a[0]) ?? '';
        const key = this.lowerCaseHeaders ? name.toLowerCase() : canonicalHeader(name);
        if (n === 1) return joinedHeaderValue(op === Op.reqHeaders, req.headers[key]);
        setJoinedHeader(this.own().headers, key, headerSetterValues(op === Op.reqHeaders, a[1]));
        return;
      }
      case Op.reqBody:
        if (n === 0) return req.body === null ? '' : new LuaBytes(req.body);
        this.own().body = bodyBytes(a[0]);
        return;
    }
    return undefined;
  }

  protected own(): R {
    if (!this.copied) {
      this.req = this.copy(this.req);
      this.copied = true;
    }
    return this.req;
  }

  /** The request to pass on: the original one when the script changed nothing. */
  result(): R {
    return this.req;
  }
}

/** `ctx` in modifier/lua-endpoint: the HTTP request itself, before KrakenD reads it. */
export class EndpointCtxView extends CopyOnWriteView<GwRequest> implements LuaView {
  protected readonly lowerCaseHeaders = true;

  protected copy(req: GwRequest): GwRequest {
    return { ...req, headers: { ...req.headers }, params: { ...req.params } };
  }

  call(op: number, a: unknown[]): unknown {
    const n = a.length;
    const req = this.req;
    switch (op) {
      case Op.reqQuery: {
        const key = str(a[0]) ?? '';
        if (n <= 1) return queryGet(req.query, key);
        this.own().query = querySet(
          req.query,
          key,
          a[1] === undefined || a[1] === null ? undefined : String(a[1]),
        );
        return;
      }
      case Op.reqUrl:
      case Op.reqPath: {
        if (n === 0)
          return op === Op.reqPath ? req.path : req.query === '' ? req.path : `${req.path}?${req.query}`;
        const { path, query } = splitPathQuery(str(a[0]) ?? '');
        const own = this.own();
        own.path = path;
        if (op === Op.reqUrl) own.query = query;
        return;
      }
      case Op.reqParams: {
        // router/gin/lua.go params(): gin's params under their own names (`{foo}` → `foo`)
        if (n === 0) return { ...req.params };
        const name = paramName(req.params, str(a[0]) ?? '');
        if (n === 1) return req.params[name] ?? '';
        this.own().params[name] = str(a[1]) ?? '';
        return;
      }
      case Op.reqHost:
        if (n === 0) return req.headers.host ?? '';
        this.own().headers.host = str(a[0]) ?? '';
        return;
    }
    return this.callShared(op, a);
  }
}

/**
 * `request` in modifier/lua-backend: the request to one backend, its URL already computed.
 * As the docs say, path/query/params setters have no effect there; url(value) does.
 */
export class BackendRequestView extends CopyOnWriteView<BackendRequest> implements LuaView {
  constructor(
    req: BackendRequest,
    private readonly host: string,
  ) {
    super(req);
  }

  protected readonly lowerCaseHeaders = false;

  protected copy(req: BackendRequest): BackendRequest {
    return { ...req, headers: { ...req.headers } };
  }

  call(op: number, a: unknown[]): unknown {
    const n = a.length;
    const req = this.req;
    switch (op) {
      case Op.reqPath:
        return n === 0 ? splitPathQuery(req.path).path : undefined;
      case Op.reqQuery:
        return n === 0 ? splitPathQuery(req.path).query : undefined;
      case Op.reqUrl: {
        if (n === 0) return `${this.host}${req.path}`;
        // Same host: keep the path (load balancing still applies); another host: the whole URL.
        const url = str(a[0]) ?? '';
        let target = url;
        const m = /^[a-zA-Z][a-zA-Z0-9+.-]*:\/\/[^/?#]*/.exec(url);
        if (m && m[0] === this.host) target = url.slice(m[0].length) || '/';
        this.own().path = target;
        return;
      }
      case Op.reqParams: {
        if (n === 0) return capitalizedParams(req.params);
        if (n === 1) return req.params[paramName(req.params, str(a[0]) ?? '')] ?? '';
        return;
      }
      case Op.reqHost:
        return n === 0 ? (req.origin.headers.host ?? '') : undefined;
    }
    return this.callShared(op, a);
  }
}

/**
 * header()/headerList() on a response (the merged one or one backend's), whose headers keep
 * each value apart: the whole table, one name's value(s), or a setter replacing the map.
 */
function responseHeaderCall(res: { headers?: ResponseHeaders }, op: number, a: unknown[]): unknown {
  const single = op === Op.respHeaders;
  if (a.length === 0) return headerTable(res.headers ?? {}, true);
  const lower = (str(a[0]) ?? '').toLowerCase();
  if (a.length === 1) {
    const v = res.headers?.[lower];
    if (v === undefined) return single ? '' : [];
    if (!Array.isArray(v)) return single ? v : [v];
    return single ? (v[0] ?? '') : [...v];
  }
  const values = headerSetterValues(single, a[1]);
  const headers: ResponseHeaders = { ...(res.headers ?? {}) };
  if (values === undefined) delete headers[lower];
  else headers[lower] = values.length === 1 ? values[0] : values;
  res.headers = headers;
  return undefined;
}

/** status(code): a code outside 100-999 (or not a number) leaves the status as it was. */
function setResponseStatus(res: { status?: number }, code: unknown): void {
  if (typeof code === 'number' && code >= 100 && code <= 999) res.status = Math.trunc(code);
}

/** `response` in modifier/lua-proxy post: the merged response of all backends. */
export class ProxyResponseView implements LuaView {
  constructor(readonly res: ProxyResponse) {}

  call(op: number, a: unknown[]): unknown {
    const n = a.length;
    const res = this.res;
    switch (op) {
      case Op.respIsComplete:
        if (n === 0) return res.isComplete;
        res.isComplete = a[0] === true;
        return;
      case Op.respStatus:
        if (n === 0) return res.status ?? 0;
        setResponseStatus(res, a[0]);
        return;
      case Op.respData:
        if (res.raw !== undefined) return {};
        res.data ??= {};
        return res.data;
      case Op.respHeaders:
      case Op.respHeaderList:
        return responseHeaderCall(res, op, a);
      case Op.respBody:
        if (n === 0) return res.raw === undefined ? '' : new LuaBytes(res.raw);
        if (res.raw !== undefined) res.raw = bodyBytes(a[0]) ?? Buffer.alloc(0);
        return;
    }
    return undefined;
  }
}

/** `response` in modifier/lua-backend post: one backend's answer, before the merge. */
export class BackendResponseView implements LuaView {
  isComplete = true;

  constructor(
    readonly res: BackendResponse,
    private readonly noop: boolean,
  ) {}

  call(op: number, a: unknown[]): unknown {
    const n = a.length;
    const res = this.res;
    switch (op) {
      case Op.respIsComplete:
        if (n === 0) return this.isComplete;
        this.isComplete = a[0] === true;
        return;
      case Op.respStatus:
        if (n === 0) return this.noop ? res.status : 0;
        setResponseStatus(res, a[0]);
        return;
      case Op.respData:
        if (this.noop) return {};
        res.data ??= {};
        return res.data;
      case Op.respHeaders:
      case Op.respHeaderList:
        return responseHeaderCall(res, op, a);
      case Op.respBody:
        if (n === 0) return new LuaBytes(res.body);
        res.body = bodyBytes(a[0]) ?? Buffer.alloc(0);
        return;
    }
    return undefined;
  }
}
