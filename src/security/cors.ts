// `security/cors` (service level): the CORS page, with the semantics of rs/cors that KrakenD
// wraps. It runs before routing, so a preflight works on every configured path (and on 404s).
//  - preflight = OPTIONS + Access-Control-Request-Method: answered here with 204
//    (`options_success_status`), unless `options_passthrough`; the Allow-* headers are only set
//    when origin, method and requested headers are all allowed.
//  - actual request: `Vary: Origin`, and Allow-Origin/Expose/Credentials when origin and method
//    are allowed.
// Defaults: origins `*` and headers `*` (krakend-cors mux/cors.go), methods GET, POST, HEAD
// (rs/cors v1.11 New). Requested headers are checked and echoed as rs/cors does.

import { parseGoDuration } from '../config/duration.js';
import { canonicalHeader } from '../proxy/backend-request.js';
import type {
  CompileContext,
  ConfigIssue,
  EndpointMiddleware,
  FeatureModule,
  GwRequest,
  GwResponse,
  ResponseHeaders,
} from '../types.js';
import { IssueList, isObject, rootOnlyWarning } from './util.js';

export const CORS_NAMESPACE = 'security/cors';

export interface CorsConfig {
  allow_origins?: string[];
  allow_methods?: string[];
  allow_headers?: string[];
  expose_headers?: string[];
  allow_credentials?: boolean;
  allow_private_network?: boolean;
  max_age?: string;
  options_passthrough?: boolean;
  options_success_status?: number;
  debug?: boolean;
}

interface WildcardOrigin {
  prefix: string;
  suffix: string;
}

export interface CompiledCors {
  /** Headers for a preflight (status is decided by the caller), or null when not a preflight. */
  isPreflight(req: GwRequest): boolean;
  preflightHeaders(req: GwRequest): ResponseHeaders;
  actualHeaders(req: GwRequest): ResponseHeaders;
  passthrough: boolean;
  successStatus: number;
}

export function compileCors(cfg: CorsConfig): CompiledCors {
  const origins = (cfg.allow_origins ?? []).map((o) => o.toLowerCase());
  const allOrigins = origins.length === 0 || origins.includes('*');
  const exact = new Set<string>();
  const wildcards: WildcardOrigin[] = [];
  for (const o of origins) {
    const star = o.indexOf('*');
    if (star < 0) exact.add(o);
    else wildcards.push({ prefix: o.slice(0, star), suffix: o.slice(star + 1) });
  }
  // rs/cors keeps the methods as written and compares them case-sensitively (isMethodAllowed)
  const methods = new Set(
    cfg.allow_methods && cfg.allow_methods.length > 0 ? cfg.allow_methods : ['GET', 'POST', 'HEAD'],
  );
  // krakend-cors mux/cors.go NewWithLogger: no allow_headers means ["*"], every header allowed
  const headerList = cfg.allow_headers && cfg.allow_headers.length > 0 ? cfg.allow_headers : ['*'];
  const allHeaders = headerList.includes('*');
  const allowedHeaders = sortedHeaderSet(headerList);
  const expose = (cfg.expose_headers ?? []).map((h) => canonicalHeader(h)).join(', ');
  const credentials = cfg.allow_credentials === true;
  const privateNetwork = cfg.allow_private_network === true;
  const maxAgeMs = typeof cfg.max_age === 'string' ? (parseGoDuration(cfg.max_age) ?? 0) : 0;
  // krakend-cors passes int(max_age.Seconds()); rs/cors writes a positive one, "0" for a negative one
  const maxAgeSeconds = Math.trunc(maxAgeMs / 1000);
  const maxAge = maxAgeSeconds > 0 ? String(maxAgeSeconds) : maxAgeSeconds < 0 ? '0' : '';
  const preflightVary = privateNetwork
    ? 'Origin, Access-Control-Request-Method, Access-Control-Request-Headers, Access-Control-Request-Private-Network'
    : 'Origin, Access-Control-Request-Method, Access-Control-Request-Headers';

  const originAllowed = (origin: string): boolean => {
    if (allOrigins) return true;
    const o = origin.toLowerCase();
    if (exact.has(o)) return true;
    for (const w of wildcards)
      if (o.length >= w.prefix.length + w.suffix.length && o.startsWith(w.prefix) && o.endsWith(w.suffix))
        return true;
    return false;
  };
  const methodAllowed = (m: string): boolean => m === 'OPTIONS' || methods.has(m);

  return {
    passthrough: cfg.options_passthrough === true,
    successStatus: typeof cfg.options_success_status === 'number' ? cfg.options_success_status : 204,
    isPreflight: (req) => req.method === 'OPTIONS' && !!req.headers['access-control-request-method'],
    preflightHeaders(req) {
      const out: ResponseHeaders = { vary: preflightVary };
      const origin = req.headers.origin;
      if (!origin || !originAllowed(origin)) return out;
      const reqMethod = req.headers['access-control-request-method'] ?? '';
      if (!methodAllowed(reqMethod)) return out;
      const requested = req.headers['access-control-request-headers'];
      if (requested !== undefined && !allHeaders && !acceptsHeaders(allowedHeaders, requested)) return out;
      out['access-control-allow-origin'] = allOrigins ? '*' : origin;
      // rs/cors handlePreflight echoes the request's method and header list as they came
      out['access-control-allow-methods'] = reqMethod;
      if (requested !== undefined && requested !== '') out['access-control-allow-headers'] = requested;
      if (credentials) out['access-control-allow-credentials'] = 'true';
      if (privateNetwork && req.headers['access-control-request-private-network'] === 'true')
        out['access-control-allow-private-network'] = 'true';
      if (maxAge !== '') out['access-control-max-age'] = maxAge;
      return out;
    },
    actualHeaders(req) {
      const out: ResponseHeaders = { vary: 'Origin' };
      const origin = req.headers.origin;
      if (!origin || !originAllowed(origin) || !methodAllowed(req.method)) return out;
      out['access-control-allow-origin'] = allOrigins ? '*' : origin;
      if (expose !== '') out['access-control-expose-headers'] = expose;
      if (credentials) out['access-control-allow-credentials'] = 'true';
      return out;
    },
  };
}

/**
 * rs/cors internal/sortedset.go NewSortedSet: the allowed names in lower case, each with its
 * rank in sorted order.
 */
function sortedHeaderSet(names: string[]): Map<string, number> {
  const out = new Map<string, number>();
  for (const name of names.map((h) => h.toLowerCase()).sort()) if (!out.has(name)) out.set(name, out.size);
  return out;
}

/**
 * rs/cors SortedSet.Accepts: Access-Control-Request-Headers as browsers write it — lower-case
 * names, sorted, no repeats, at most one space or tab around each, up to 16 empty elements.
 */
function acceptsHeaders(set: Map<string, number>, value: string): boolean {
  let last = -1;
  let empty = 0;
  for (const element of value.split(',')) {
    const name = element.replace(/^[ \t]/, '').replace(/[ \t]$/, '');
    if (name === '') {
      if (++empty > 16) return false;
      continue;
    }
    const rank = set.get(name);
    if (rank === undefined || rank <= last) return false;
    last = rank;
  }
  return true;
}

/**
 * Adds `extra` to a response: `vary` goes before what the response already varies on (rs/cors
 * sets it before the handler writes), the rest is set.
 */
function withHeaders(res: GwResponse, extra: ResponseHeaders): GwResponse {
  const headers: ResponseHeaders = { ...res.headers };
  for (const k in extra) {
    const prev = headers[k];
    if (k === 'vary' && prev !== undefined)
      headers[k] = `${extra[k]}, ${Array.isArray(prev) ? prev.join(', ') : prev}`;
    else headers[k] = extra[k];
  }
  return { status: res.status, headers, body: res.body };
}

function validate(raw: unknown, path: string): ConfigIssue[] {
  if (!isObject(raw)) return [{ path, message: 'expected an object' }];
  const notRoot = rootOnlyWarning(CORS_NAMESPACE, path);
  if (notRoot) return [notRoot];
  const v = new IssueList(path);
  for (const k of ['allow_origins', 'allow_methods', 'allow_headers', 'expose_headers'])
    v.type(raw, k, 'string[]');
  for (const k of ['allow_credentials', 'allow_private_network', 'options_passthrough', 'debug'])
    v.type(raw, k, 'boolean');
  if (
    v.type(raw, 'max_age', 'string') &&
    typeof raw.max_age === 'string' &&
    parseGoDuration(raw.max_age) === undefined
  )
    v.add('max_age', 'expected a duration such as "12h" or "30m"');
  if (
    v.type(raw, 'options_success_status', 'integer') &&
    typeof raw.options_success_status === 'number' &&
    (raw.options_success_status < 200 || raw.options_success_status > 299)
  )
    v.add('options_success_status', 'expected a 2xx status code');
  if (Array.isArray(raw.allow_origins))
    raw.allow_origins.forEach((o, i) => {
      if (typeof o === 'string' && o !== '*' && o.split('*').length > 2)
        v.add(`allow_origins[${i}]`, 'only one * wildcard is supported in an origin');
    });
  return v.issues;
}

export const corsModule: FeatureModule = {
  namespace: CORS_NAMESPACE,
  schema: { type: 'object' },
  validate,
  service(raw: unknown, ctx: CompileContext): EndpointMiddleware | undefined {
    if (!isObject(raw)) return undefined;
    const cors = compileCors(raw as CorsConfig);
    const debug = (raw as CorsConfig).debug === true;
    const logger = ctx.logger;
    return (next) => async (req) => {
      if (cors.isPreflight(req)) {
        const headers = cors.preflightHeaders(req);
        if (debug)
          logger.debug(
            `[CORS] preflight ${req.path} origin=${req.headers.origin ?? ''} allowed=${'access-control-allow-origin' in headers}`,
          );
        if (!cors.passthrough) return { status: cors.successStatus, headers, body: null };
        return withHeaders(await next(req), headers);
      }
      const headers = cors.actualHeaders(req);
      return withHeaders(await next(req), headers);
    };
  },
};
