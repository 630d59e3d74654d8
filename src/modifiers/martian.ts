// modifier/martian: the static request/response modifiers of the "Martian" page, compiled at
// startup into two closures per backend (request side, response side). Semantics follow
// google/martian as KrakenD wires it: every component has a `scope`; a filter or group only
// runs in the scopes it lists, and then runs the scopes its children list. Response modifiers
// act before the backend's data is used: a body change re-decodes the data.

import { randomUUID } from 'node:crypto';
import { ConfigPathError, compileIssues, isObject } from '../config/issues.js';
import { canonicalHeader } from '../proxy/backend-request.js';
import { type Decoder, getDecoder } from '../proxy/encodings.js';
import type {
  BackendMiddleware,
  BackendRequest,
  BackendResponse,
  CompileContext,
  ConfigIssue,
  FeatureModule,
  HeaderMap,
  ResponseHeaders,
} from '../types.js';

/** The backend request as martian sees it: a URL in parts plus headers and body. */
interface MRequest {
  method: string;
  scheme: string;
  /** host[:port] */
  host: string;
  path: string;
  /** Raw query without '?'. */
  query: string;
  headers: HeaderMap;
  body: Buffer | null;
  /** Scheme/host/port changed: the request must go to this URL, not to the balanced host. */
  urlChanged: boolean;
  stash?: string;
}

interface MResponse {
  status: number;
  headers: ResponseHeaders;
  body: Buffer;
  bodyChanged: boolean;
}

type ReqMod = (r: MRequest) => void;
type ResMod = (res: MResponse, req: MRequest) => void;

interface Compiled {
  req?: ReqMod;
  res?: ResMod;
}

type Cfg = Record<string, unknown>;

function scopes(cfg: Cfg, path: string): { request: boolean; response: boolean } {
  const s = cfg.scope;
  if (s === undefined) return { request: true, response: true };
  if (!Array.isArray(s) || s.some((x) => x !== 'request' && x !== 'response'))
    throw new ConfigPathError(`${path}.scope`, 'expected an array of "request" and/or "response"');
  return { request: s.includes('request'), response: s.includes('response') };
}

function needString(cfg: Cfg, key: string, path: string, optional = false): string {
  const v = cfg[key];
  if (v === undefined && optional) return '';
  if (typeof v !== 'string' || (!optional && v === ''))
    throw new ConfigPathError(`${path}.${key}`, 'expected a non-empty string');
  return v;
}

/** RE2 → JS: a leading `(?i)`/`(?s)` flag group and `(?P<name>` captures. */
export function compileRe2(source: string, path: string): RegExp {
  let flags = '';
  let src = source;
  const m = /^\(\?([imsU]+)\)/.exec(src);
  if (m) {
    src = src.slice(m[0].length);
    for (const f of m[1]) if ((f === 'i' || f === 'm' || f === 's') && !flags.includes(f)) flags += f;
  }
  src = src.replace(/\(\?P</g, '(?<');
  try {
    return new RegExp(src, flags);
  } catch (err) {
    throw new ConfigPathError(path, `invalid regular expression: ${(err as Error).message}`);
  }
}

// ---- header helpers: request headers are canonical, response headers lower-case ---------

function resHeaderValues(h: ResponseHeaders, lower: string): string[] {
  const v = h[lower];
  return v === undefined ? [] : Array.isArray(v) ? v : [v];
}

function resHeaderAdd(h: ResponseHeaders, lower: string, value: string): void {
  const cur = h[lower];
  if (cur === undefined) h[lower] = value;
  else h[lower] = Array.isArray(cur) ? [...cur, value] : [cur, value];
}

function effectivePort(r: MRequest): string {
  const colon = r.host.lastIndexOf(':');
  if (colon > 0 && !r.host.endsWith(']')) return r.host.slice(colon + 1);
  return r.scheme === 'https' ? '443' : '80';
}

function hostname(r: MRequest): string {
  const colon = r.host.lastIndexOf(':');
  return colon > 0 && !r.host.endsWith(']') ? r.host.slice(0, colon) : r.host;
}

function fullUrl(r: MRequest): string {
  return `${r.scheme}://${r.host}${r.path}${r.query ? `?${r.query}` : ''}`;
}

/** Go's url.Values.Encode: keys sorted, QueryEscape (space → '+'). */
function goQueryEscape(s: string): string {
  return encodeURIComponent(s)
    .replace(/%20/g, '+')
    .replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

function decodeQueryPart(s: string): string {
  try {
    return decodeURIComponent(s.replace(/\+/g, ' '));
  } catch {
    return s;
  }
}

function parseQuery(q: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  if (q === '') return out;
  for (const pair of q.split('&')) {
    if (pair === '') continue;
    const eq = pair.indexOf('=');
    const k = decodeQueryPart(eq < 0 ? pair : pair.slice(0, eq));
    const v = decodeQueryPart(eq < 0 ? '' : pair.slice(eq + 1));
    const list = out.get(k);
    if (list) list.push(v);
    else out.set(k, [v]);
  }
  return out;
}

function encodeQuery(values: Map<string, string[]>): string {
  const parts: string[] = [];
  for (const k of [...values.keys()].sort()) {
    for (const v of values.get(k)!) parts.push(`${goQueryEscape(k)}=${goQueryEscape(v)}`);
  }
  return parts.join('&');
}

function requestCookies(r: MRequest): Map<string, string> {
  const out = new Map<string, string>();
  const raw = r.headers.Cookie;
  if (!raw) return out;
  for (const part of raw.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    const name = part.slice(0, eq).trim();
    if (name && !out.has(name)) out.set(name, part.slice(eq + 1).trim());
  }
  return out;
}

function responseCookies(res: MResponse): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of resHeaderValues(res.headers, 'set-cookie')) {
    const first = line.split(';')[0];
    const eq = first.indexOf('=');
    if (eq > 0) out.set(first.slice(0, eq).trim(), first.slice(eq + 1).trim());
  }
  return out;
}

// ---- modifiers ---------------------------------------------------------------------------

/** A header a modifier names, as requests key it (Go's canonical form) and responses (lower case). */
function headerKeys(name: string): { canonical: string; lower: string } {
  return { canonical: canonicalHeader(name), lower: name.toLowerCase() };
}

function headerModifier(cfg: Cfg, path: string): Compiled {
  const name = needString(cfg, 'name', path);
  const value = needString(cfg, 'value', path, true);
  const { canonical, lower } = headerKeys(name);
  return {
    req: (r) => {
      r.headers[canonical] = value;
    },
    res: (res) => {
      res.headers[lower] = value;
    },
  };
}

function headerAppend(cfg: Cfg, path: string): Compiled {
  const name = needString(cfg, 'name', path);
  const value = needString(cfg, 'value', path, true);
  const { canonical, lower } = headerKeys(name);
  return {
    req: (r) => {
      const cur = r.headers[canonical];
      r.headers[canonical] = cur === undefined ? value : `${cur}, ${value}`;
    },
    res: (res) => resHeaderAdd(res.headers, lower, value),
  };
}

function headerCopy(cfg: Cfg, path: string): Compiled {
  const from = needString(cfg, 'from', path);
  const to = needString(cfg, 'to', path);
  const { canonical: fromC, lower: fromL } = headerKeys(from);
  const { canonical: toC, lower: toL } = headerKeys(to);
  return {
    req: (r) => {
      const v = r.headers[fromC];
      if (v !== undefined) r.headers[toC] = v;
    },
    res: (res) => {
      const v = res.headers[fromL];
      if (v !== undefined) res.headers[toL] = Array.isArray(v) ? [...v] : v;
    },
  };
}

function headerBlacklist(cfg: Cfg, path: string): Compiled {
  const names = cfg.names;
  if (!Array.isArray(names) || names.some((n) => typeof n !== 'string'))
    throw new ConfigPathError(`${path}.names`, 'expected an array of header names');
  const canonical = names.map((n) => canonicalHeader(n as string));
  const lower = names.map((n) => (n as string).toLowerCase());
  return {
    req: (r) => {
      for (const n of canonical) delete r.headers[n];
    },
    res: (res) => {
      for (const n of lower) delete res.headers[n];
    },
  };
}

function headerId(cfg: Cfg, path: string): Compiled {
  const name = needString(cfg, 'header', path, true) || 'X-Krakend-Id';
  const canonical = canonicalHeader(name);
  return {
    req: (r) => {
      if (r.headers[canonical] === undefined) r.headers[canonical] = randomUUID();
    },
  };
}

function stashModifier(cfg: Cfg, path: string): Compiled {
  const name = needString(cfg, 'headerName', path);
  const { canonical, lower } = headerKeys(name);
  return {
    req: (r) => {
      r.stash = fullUrl(r);
      r.headers[canonical] = r.stash;
    },
    res: (res, r) => {
      res.headers[lower] = r.stash ?? fullUrl(r);
    },
  };
}

function bodyModifier(cfg: Cfg, path: string): Compiled {
  const b64 = needString(cfg, 'body', path, true);
  if (!/^[A-Za-z0-9+/=\s_-]*$/.test(b64)) throw new ConfigPathError(`${path}.body`, 'expected base64');
  const body = Buffer.from(b64, 'base64');
  const contentType = needString(cfg, 'contentType', path, true);
  return {
    req: (r) => {
      r.body = body;
      if (contentType) r.headers['Content-Type'] = contentType;
      delete r.headers['Content-Encoding'];
    },
    res: (res) => {
      res.body = body;
      res.bodyChanged = true;
      if (contentType) res.headers['content-type'] = contentType;
      res.headers['content-length'] = String(body.length);
      delete res.headers['content-encoding'];
    },
  };
}

function cookieModifier(cfg: Cfg, path: string): Compiled {
  const name = needString(cfg, 'name', path);
  const value = needString(cfg, 'value', path, true);
  let setCookie = `${name}=${value}`;
  if (typeof cfg.path === 'string' && cfg.path) setCookie += `; Path=${cfg.path}`;
  if (typeof cfg.domain === 'string' && cfg.domain) setCookie += `; Domain=${cfg.domain}`;
  if (typeof cfg.expires === 'string' && cfg.expires) {
    const t = Date.parse(cfg.expires);
    if (Number.isNaN(t)) throw new ConfigPathError(`${path}.expires`, 'expected an RFC 3339 date');
    setCookie += `; Expires=${new Date(t).toUTCString()}`;
  }
  if (typeof cfg.maxAge === 'number' && cfg.maxAge > 0) setCookie += `; Max-Age=${Math.trunc(cfg.maxAge)}`;
  else if (typeof cfg.maxAge === 'number' && cfg.maxAge < 0) setCookie += '; Max-Age=0';
  if (cfg.httpOnly === true) setCookie += '; HttpOnly';
  if (cfg.secure === true) setCookie += '; Secure';
  const pair = `${name}=${value}`;
  return {
    req: (r) => {
      const cur = r.headers.Cookie;
      r.headers.Cookie = cur ? `${cur}; ${pair}` : pair;
    },
    res: (res) => resHeaderAdd(res.headers, 'set-cookie', setCookie),
  };
}

function urlModifier(cfg: Cfg, path: string): Compiled {
  const scheme = needString(cfg, 'scheme', path, true);
  const host = needString(cfg, 'host', path, true);
  const newPath = needString(cfg, 'path', path, true);
  const query = needString(cfg, 'query', path, true);
  return {
    req: (r) => {
      if (scheme) r.scheme = scheme;
      if (host) r.host = host;
      if (scheme || host) r.urlChanged = true;
      if (newPath) r.path = newPath;
      if (query) r.query = query;
    },
  };
}

function querystringModifier(cfg: Cfg, path: string): Compiled {
  const name = needString(cfg, 'name', path);
  const value = needString(cfg, 'value', path, true);
  return {
    req: (r) => {
      const q = parseQuery(r.query);
      q.set(name, [value]);
      r.query = encodeQuery(q);
    },
  };
}

function portModifier(cfg: Cfg, path: string): Compiled {
  const port = cfg.port;
  const useDefault = cfg.defaultForScheme === true;
  const remove = cfg.remove === true;
  const set = [typeof port === 'number', useDefault, remove].filter(Boolean).length;
  if (set !== 1) throw new ConfigPathError(path, 'set exactly one of port, defaultForScheme or remove');
  if (typeof port === 'number' && !(Number.isInteger(port) && port > 0 && port < 65536))
    throw new ConfigPathError(`${path}.port`, 'expected a TCP port (1-65535)');
  return {
    req: (r) => {
      const h = hostname(r);
      if (remove) r.host = h;
      else if (useDefault) r.host = `${h}:${r.scheme === 'https' ? 443 : 80}`;
      else r.host = `${h}:${port}`;
      r.urlChanged = true;
      r.headers.Host = r.host;
    },
  };
}

// ---- filters -----------------------------------------------------------------------------

type ReqTest = (r: MRequest) => boolean;
type ResTest = (res: MResponse, r: MRequest) => boolean;

function filter(cfg: Cfg, path: string, tests: { req?: ReqTest; res?: ResTest }, allowElse = true): Compiled {
  const scope = scopes(cfg, path);
  if (!isObject(cfg.modifier)) throw new ConfigPathError(`${path}.modifier`, 'expected a modifier object');
  const then = compileNode(cfg.modifier, `${path}.modifier`);
  const otherwise = allowElse && cfg.else !== undefined ? compileNode(cfg.else, `${path}.else`) : {};
  const out: Compiled = {};
  const reqTest = tests.req;
  const resTest = tests.res;
  if (scope.request && reqTest && (then.req || otherwise.req)) {
    const a = then.req;
    const b = otherwise.req;
    out.req = (r) => {
      if (reqTest(r)) a?.(r);
      else b?.(r);
    };
  }
  if (scope.response && resTest && (then.res || otherwise.res)) {
    const a = then.res;
    const b = otherwise.res;
    out.res = (res, r) => {
      if (resTest(res, r)) a?.(res, r);
      else b?.(res, r);
    };
  }
  return out;
}

function headerFilter(cfg: Cfg, path: string): Compiled {
  const name = needString(cfg, 'name', path);
  const value = typeof cfg.value === 'string' ? cfg.value : undefined;
  const { canonical, lower } = headerKeys(name);
  return filter(cfg, path, {
    req: (r) => {
      const v = r.headers[canonical];
      return v !== undefined && (value === undefined || v.split(', ').includes(value) || v === value);
    },
    res: (res) => {
      const vs = resHeaderValues(res.headers, lower);
      return vs.length > 0 && (value === undefined || vs.includes(value));
    },
  });
}

function headerRegexFilter(cfg: Cfg, path: string): Compiled {
  const name = needString(cfg, 'header', path);
  const re = compileRe2(needString(cfg, 'regex', path), `${path}.regex`);
  const { canonical, lower } = headerKeys(name);
  return filter(cfg, path, {
    req: (r) => {
      const v = r.headers[canonical];
      return v !== undefined && re.test(v);
    },
    res: (res) => resHeaderValues(res.headers, lower).some((v) => re.test(v)),
  });
}

function cookieFilter(cfg: Cfg, path: string): Compiled {
  const name = needString(cfg, 'name', path);
  const value = typeof cfg.value === 'string' ? cfg.value : undefined;
  const matches = (cookies: Map<string, string>) => {
    const v = cookies.get(name);
    return v !== undefined && (value === undefined || v === value);
  };
  return filter(cfg, path, {
    req: (r) => matches(requestCookies(r)),
    res: (res) => matches(responseCookies(res)),
  });
}

function urlFilter(cfg: Cfg, path: string): Compiled {
  const scheme = needString(cfg, 'scheme', path, true);
  const host = needString(cfg, 'host', path, true);
  const urlPath = needString(cfg, 'path', path, true);
  const query = needString(cfg, 'query', path, true);
  const test = (r: MRequest) =>
    (!scheme || r.scheme === scheme) &&
    (!host || r.host === host || hostname(r) === host) &&
    (!urlPath || r.path === urlPath) &&
    (!query || r.query === query);
  return filter(cfg, path, { req: test, res: (_res, r) => test(r) });
}

function urlRegexFilter(cfg: Cfg, path: string): Compiled {
  const re = compileRe2(needString(cfg, 'regex', path), `${path}.regex`);
  const test = (r: MRequest) => re.test(`${r.scheme}://${r.host}${r.path}`);
  return filter(cfg, path, { req: test, res: (_res, r) => test(r) });
}

function querystringFilter(cfg: Cfg, path: string): Compiled {
  const name = needString(cfg, 'name', path);
  const value = typeof cfg.value === 'string' ? cfg.value : undefined;
  const test = (r: MRequest) => {
    const vs = parseQuery(r.query).get(name);
    return vs !== undefined && (value === undefined || vs.includes(value));
  };
  return filter(cfg, path, { req: test, res: (_res, r) => test(r) });
}

function portFilter(cfg: Cfg, path: string): Compiled {
  const port = cfg.port;
  if (typeof port !== 'number' || !Number.isInteger(port))
    throw new ConfigPathError(`${path}.port`, 'expected a port number');
  const want = String(port);
  const test = (r: MRequest) => effectivePort(r) === want;
  return filter(cfg, path, { req: test, res: (_res, r) => test(r) }, false);
}

// ---- groups ------------------------------------------------------------------------------

function chain(parts: Compiled[], scope: { request: boolean; response: boolean }): Compiled {
  const reqs = scope.request ? parts.flatMap((p) => (p.req ? [p.req] : [])) : [];
  const ress = scope.response ? parts.flatMap((p) => (p.res ? [p.res] : [])) : [];
  const out: Compiled = {};
  if (reqs.length === 1) out.req = reqs[0];
  else if (reqs.length > 1)
    out.req = (r) => {
      for (const m of reqs) m(r);
    };
  if (ress.length === 1) out.res = ress[0];
  else if (ress.length > 1)
    out.res = (res, r) => {
      for (const m of ress) m(res, r);
    };
  return out;
}

function fifoGroup(cfg: Cfg, path: string): Compiled {
  const mods = cfg.modifiers;
  if (!Array.isArray(mods)) throw new ConfigPathError(`${path}.modifiers`, 'expected an array of modifiers');
  return chain(
    mods.map((m, i) => compileNode(m, `${path}.modifiers[${i}]`)),
    scopes(cfg, path),
  );
}

function priorityGroup(cfg: Cfg, path: string): Compiled {
  const mods = cfg.modifiers;
  if (!Array.isArray(mods))
    throw new ConfigPathError(`${path}.modifiers`, 'expected an array of {priority, modifier}');
  const entries = mods.map((m, i) => {
    const p = `${path}.modifiers[${i}]`;
    if (!isObject(m) || typeof m.priority !== 'number' || !isObject(m.modifier))
      throw new ConfigPathError(p, 'expected {"priority": number, "modifier": {...}}');
    return { priority: m.priority, index: i, compiled: compileNode(m.modifier, `${p}.modifier`) };
  });
  // martian: higher priority first; with equal priorities the one added later goes first
  entries.sort((a, b) => b.priority - a.priority || b.index - a.index);
  return chain(
    entries.map((e) => e.compiled),
    scopes(cfg, path),
  );
}

type Builder = (cfg: Cfg, path: string) => Compiled;

const modifiers: Record<string, Builder> = {
  'header.Modifier': headerModifier,
  'header.Append': headerAppend,
  'header.Copy': headerCopy,
  'header.Blacklist': headerBlacklist,
  'header.Id': headerId,
  'stash.Modifier': stashModifier,
  'body.Modifier': bodyModifier,
  'cookie.Modifier': cookieModifier,
  'url.Modifier': urlModifier,
  'querystring.Modifier': querystringModifier,
  'port.Modifier': portModifier,
  'header.Filter': headerFilter,
  'header.RegexFilter': headerRegexFilter,
  'cookie.Filter': cookieFilter,
  'url.Filter': urlFilter,
  'url.RegexFilter': urlRegexFilter,
  'querystring.Filter': querystringFilter,
  'port.Filter': portFilter,
  'fifo.Group': fifoGroup,
  'priority.Group': priorityGroup,
};

const FILTERS_AND_GROUPS = new Set([
  'header.Filter',
  'header.RegexFilter',
  'cookie.Filter',
  'url.Filter',
  'url.RegexFilter',
  'querystring.Filter',
  'port.Filter',
  'fifo.Group',
  'priority.Group',
]);

/** `{ "package.Type": {...} }` → closures, scoped as the component says. */
function compileNode(node: unknown, path: string): Compiled {
  if (!isObject(node)) throw new ConfigPathError(path, 'expected an object with one "package.Type" key');
  const keys = Object.keys(node).filter((k) => !k.startsWith('@'));
  if (keys.length !== 1)
    throw new ConfigPathError(
      path,
      `expected exactly one "package.Type" key (use fifo.Group for several), got ${keys.length}`,
    );
  const type = keys[0];
  const builder = modifiers[type];
  const p = `${path}["${type}"]`;
  if (!builder)
    throw new ConfigPathError(p, `unknown martian component; known: ${Object.keys(modifiers).join(', ')}`);
  const cfg = node[type];
  if (!isObject(cfg)) throw new ConfigPathError(p, 'expected an object');
  const compiled = builder(cfg, p);
  if (FILTERS_AND_GROUPS.has(type)) return compiled;
  const scope = scopes(cfg, p);
  return { req: scope.request ? compiled.req : undefined, res: scope.response ? compiled.res : undefined };
}

export interface CompiledMartian {
  request?: (breq: BackendRequest, baseUrl: URL | undefined) => BackendRequest;
  response?: (res: BackendResponse, breq: BackendRequest, baseUrl: URL | undefined) => BackendResponse;
}

function toMRequest(breq: BackendRequest, base: URL | undefined): MRequest {
  let url = breq.path;
  let scheme = base ? base.protocol.slice(0, -1) : 'http';
  let host = base ? base.host : '';
  if (url.charCodeAt(0) !== 47 && URL.canParse(url)) {
    const u = new URL(url);
    scheme = u.protocol.slice(0, -1);
    host = u.host;
    url = `${u.pathname}${u.search}`;
  }
  const q = url.indexOf('?');
  return {
    method: breq.method,
    scheme,
    host,
    path: q < 0 ? url : url.slice(0, q),
    query: q < 0 ? '' : url.slice(q + 1),
    headers: { ...breq.headers },
    body: breq.body,
    urlChanged: false,
  };
}

/** Compiles a `modifier/martian` value; throws ConfigPathError with the JSON path. */
export function compileMartian(cfg: unknown, path: string): CompiledMartian {
  const root = compileNode(cfg, path);
  const out: CompiledMartian = {};
  const reqMod = root.req;
  const resMod = root.res;
  if (reqMod) {
    out.request = (breq, base) => {
      const r = toMRequest(breq, base);
      reqMod(r);
      const pathAndQuery = `${r.path}${r.query ? `?${r.query}` : ''}`;
      return {
        ...breq,
        method: r.method,
        path: r.urlChanged ? `${r.scheme}://${r.host}${pathAndQuery}` : pathAndQuery,
        headers: r.headers,
        body: r.body,
      };
    };
  }
  if (resMod) {
    out.response = (res, breq, base) => {
      const m: MResponse = {
        status: res.status,
        headers: { ...res.headers },
        body: res.body,
        bodyChanged: false,
      };
      resMod(m, toMRequest(breq, base));
      return {
        ...res,
        status: m.status,
        headers: m.headers,
        body: m.body,
        ...(m.bodyChanged ? { bodyChanged: true } : {}),
      };
    };
  }
  return out;
}

export function validateMartian(cfg: unknown, path: string): ConfigIssue[] {
  return compileIssues(() => compileMartian(cfg, path), path);
}

export const martianModule: FeatureModule = {
  namespace: 'modifier/martian',
  schema: { type: 'object' },
  bytesOnly: true,
  validate: (cfg, path) => validateMartian(cfg, path),
  backend(cfg: unknown, ctx: CompileContext): BackendMiddleware | undefined {
    const compiled = compileMartian(cfg, ctx.path);
    const { request, response } = compiled;
    if (!request && !response) return undefined;
    const firstHost = ctx.backend?.host?.[0] ?? ctx.service.host?.[0];
    const base = firstHost && URL.canParse(firstHost) ? new URL(firstHost) : undefined;
    const encoding = ctx.backend?.encoding ?? 'json';
    const decoder: Decoder | undefined =
      encoding === 'no-op' ? undefined : (getDecoder(encoding) ?? getDecoder('json'));
    const isCollection = ctx.backend?.is_collection === true;
    return (next) => async (breq) => {
      const sent = request ? request(breq, base) : breq;
      const res = await next(sent);
      if (!response) return res;
      const out = response(res, sent, base) as BackendResponse & { bodyChanged?: boolean };
      if (out.bodyChanged) {
        delete out.bodyChanged;
        // the body changed before KrakenD would decode it: decode the new one
        if (res.data !== undefined && decoder) out.data = decoder(out.body, isCollection);
      }
      return out;
    };
  },
};
