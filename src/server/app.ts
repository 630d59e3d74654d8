// One gateway application: the compiled route table plus the router options of the
// "Router Options" page, turned into a single request handler for the HTTP front.

import { BlockList, isIP } from 'node:net';
import type { Logger } from 'pino';
import { startAgents } from '../async/agents.js';
import { agentReports, agentsOf } from '../async/health.js';
import { servedMethod } from '../config/krakend-defaults.js';
import { moduleFor, namespacesInRunOrder } from '../extensions/registry.js';
import { GW_VERSION } from '../proxy/backend-request.js';
import type { PipelineRuntime } from '../proxy/compile.js';
import { PoolRegistry } from '../proxy/http-client.js';
import { chainEndpoint, handlerOf, stageOf } from '../proxy/layers.js';
import { compileEndpoint } from '../proxy/pipeline.js';
import { type AccessLog, compileAccessLog } from '../telemetry/access-log.js';
import type {
  CompileContext,
  EndpointMiddleware,
  EndpointStage,
  GwRequest,
  GwResponse,
  Handler,
  ServiceConfig,
  UnmatchedRecorder,
} from '../types.js';
import { debugHandler, echoHandler, healthHandler } from './builtin.js';
import {
  cleanKeepingSlash,
  cleanPath,
  goPathClean,
  type LookupResult,
  NO_PARAMS,
  paramsRefusal,
  Router,
  restRefusal,
} from './router.js';

export interface RouterOptions {
  return_error_msg?: boolean;
  auto_options?: boolean;
  remove_duplicate_slash?: boolean;
  disable_redirect_trailing_slash?: boolean;
  disable_redirect_fixed_path?: boolean;
  redirect_trailing_slash?: boolean;
  redirect_fixed_path?: boolean;
  hide_version_header?: boolean;
  logger_skip_paths?: string[];
  disable_access_log?: boolean;
  health_path?: string;
  disable_health?: boolean;
  forwarded_by_client_ip?: boolean;
  remote_ip_headers?: string[];
  trusted_proxies?: string[];
  error_body?: Record<string, unknown>;
  disable_handle_method_not_allowed?: boolean;
}

export interface AppOptions {
  logger: Logger;
  shared: Record<string, unknown>;
  workerId: number;
  transform: 'wasm' | 'js';
}

export interface GatewayApp {
  /** Every request: the service middlewares, the router, the endpoint's pipeline. */
  serve: Handler;
  /**
   * The request headers serving `method path` reads (lower-case names), null when any may be read:
   * a front that copies headers one by one (uWS) asks first and copies only those.
   */
  headerReads(method: string, path: string): readonly string[] | null;
  /** The same as a promise (tests, tools). */
  handle: EndpointStage;
  /** The access log (undefined when off): the front calls it once a request is answered. */
  accessLog: AccessLog | undefined;
  /** Stops the async agents (draining their messages up to `deadlineMs`), then everything else. */
  close(deadlineMs?: number): Promise<void>;
  routes: Array<{ method: string; pattern: string }>;
}

function plain(status: number, text: string, extra?: Record<string, string>): GwResponse {
  return { status, headers: { 'content-type': 'text/plain; charset=utf-8', ...(extra ?? {}) }, body: text };
}

/** The client IP per forwarded_by_client_ip / remote_ip_headers / trusted_proxies. */
function compileClientIp(opts: RouterOptions): ((req: GwRequest) => string) | undefined {
  if (!opts.forwarded_by_client_ip) return undefined;
  const headerNames = (opts.remote_ip_headers ?? ['X-Forwarded-For', 'X-Real-IP']).map((h) =>
    h.toLowerCase(),
  );
  const trusted = new BlockList();
  for (const cidr of opts.trusted_proxies ?? []) {
    const [ip, bits] = cidr.split('/');
    const family = isIP(ip) === 6 ? 'ipv6' : 'ipv4';
    if (bits === undefined) trusted.addAddress(ip, family);
    else trusted.addSubnet(ip, Number(bits), family);
  }
  const isTrusted = (ip: string) => {
    const family = isIP(ip);
    if (family === 0) return false;
    return trusted.check(ip, family === 6 ? 'ipv6' : 'ipv4');
  };
  return (req) => {
    if (!isTrusted(req.clientIp)) return req.clientIp;
    for (const name of headerNames) {
      const v = req.headers[name];
      if (v === undefined) continue;
      const ips = v.split(',').map((s) => s.trim());
      for (let i = ips.length - 1; i >= 0; i--) {
        if (isIP(ips[i]) === 0) break;
        if (i === 0 || !isTrusted(ips[i])) return ips[i];
      }
    }
    return req.clientIp;
  };
}

/**
 * The router's 404 or 405: gin's own text as `text/plain` with no charset (gin-gonic/gin gin.go,
 * serveError), or the configured `error_body` as JSON (krakend-ce router_engine.go, jsonHandler);
 * both with the X-Krakend headers krakend-ce's NoRoute/NoMethod handler sets (defaultHandler).
 */
function errorBody(opts: RouterOptions, code: number, fallback: string, versionHeader: string): GwResponse {
  const custom = opts.error_body?.[String(code)];
  const headers = { 'x-krakend': versionHeader, 'x-krakend-completed': 'false' };
  if (custom !== undefined)
    return {
      status: code,
      headers: { 'content-type': 'application/json; charset=utf-8', ...headers },
      body: JSON.stringify(custom),
    };
  return { status: code, headers: { 'content-type': 'text/plain', ...headers }, body: fallback };
}

/** The methods Lura's gin router registers endpoints for (router/gin/router.go, registerKrakendEndpoint). */
const ROUTED_METHODS = new Set(['GET', 'POST', 'PUT', 'PATCH', 'DELETE']);
/** The methods gin's `Any` registers, in its order (the debug and echo endpoints). */
const ANY_METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'HEAD', 'OPTIONS', 'DELETE', 'CONNECT', 'TRACE'];

/**
 * The order of gin's method trees, which is the order of a 405's `Allow` list: a tree is added
 * when its method is first registered — the health check (GET) in lura's NewEngine, then the
 * debug/echo endpoints (`Any`), then the endpoints in config order, then the auto OPTIONS routes
 * (gin-gonic/gin gin.go, handleHTTPRequest; luraproject/lura router/gin/engine.go and router.go).
 */
function ginTreeOrder(service: ServiceConfig, opts: RouterOptions, autoOptions: boolean): string[] {
  const order: string[] = [];
  const add = (m: string) => {
    if (!order.includes(m)) order.push(m);
  };
  if (!opts.disable_health) add('GET');
  if (service.debug_endpoint === true || service.echo_endpoint === true) for (const m of ANY_METHODS) add(m);
  for (const ep of service.endpoints ?? []) add((ep.method ?? 'GET').toUpperCase());
  if (autoOptions) add('OPTIONS');
  for (const m of ANY_METHODS) add(m);
  return order;
}

const HTML_ESCAPES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&#34;',
  "'": '&#39;',
};
/** Go's html escaping of http.Redirect's body (net/http server.go, htmlReplacer). */
function htmlEscape(s: string): string {
  return s.replace(/[&<>"']/g, (c) => HTML_ESCAPES[c]);
}

/** A lookup that found no route. */
type Unmatched = Exclude<LookupResult<Route>, { kind: 'found' }>;

/** An endpoint as the router holds it: its pipeline, and the request headers that read. */
interface Route {
  handler: Handler;
  reads: readonly string[] | null;
}

/** An answer that reads no request header (404, 405, a redirect, the health check). */
const READS_NONE: readonly string[] = Object.freeze([]);
/** What an unmatched request reads when a trailing-slash redirect may answer it. */
const READS_PREFIX: readonly string[] = Object.freeze(['x-forwarded-prefix']);

/**
 * What gin puts before a trailing-slash redirect's path (gin.go, redirectTrailingSlash): the
 * request's `X-Forwarded-Prefix` (its first value, as Go's Header.Get), path-cleaned, with every
 * byte but letters, digits, `/` and `-` removed and runs of `/` made one; nothing without one.
 */
function forwardedPrefix(req: GwRequest): string {
  const header = req.headers['x-forwarded-prefix'];
  if (header === undefined || header === '') return '';
  const comma = header.indexOf(',');
  const cleaned = goPathClean(comma < 0 ? header : header.slice(0, comma));
  if (cleaned === '.') return '';
  return `${cleaned.replace(/[^a-zA-Z0-9/-]+/g, '').replace(/\/{2,}/g, '/')}/`;
}

/**
 * The Location Go's http.Redirect writes for a path: made absolute against its own directory when
 * it is relative (gin has set the request's path to it), then cleaned, its trailing `/` kept.
 */
function goRedirectPath(location: string): string {
  if (location.startsWith('/')) return cleanKeepingSlash(location);
  return cleanKeepingSlash(location.slice(0, location.lastIndexOf('/') + 1) + location);
}

/** What the root namespaces record of the requests no endpoint serves; undefined when none does. */
function compileUnmatchedRecorder(
  service: ServiceConfig,
  ctxFor: (ns: string) => CompileContext,
): UnmatchedRecorder | undefined {
  const rootExtra = service.extra_config ?? {};
  const recorders: UnmatchedRecorder[] = [];
  for (const ns of namespacesInRunOrder(rootExtra)) {
    const mod = moduleFor(ns);
    const recorder = mod?.instrumentUnmatched?.(rootExtra[ns], ctxFor(ns));
    if (recorder !== undefined) recorders.push(recorder);
  }
  if (recorders.length <= 1) return recorders[0];
  return (req, res, startedMs) => {
    for (const record of recorders) record(req, res, startedMs);
  };
}

export function buildApp(service: ServiceConfig, opts: AppOptions): GatewayApp {
  const routerOpts = (service.extra_config?.router ?? {}) as RouterOptions;
  const logger = opts.logger;
  const pools = new PoolRegistry();
  const closers: Array<() => void | Promise<void>> = [];
  const versionHeader = routerOpts.hide_version_header ? 'Version undefined' : `Version ${GW_VERSION}`;
  const rt: PipelineRuntime = {
    pools,
    logger,
    returnErrorMsg: routerOpts.return_error_msg === true,
    versionHeader,
    userAgent: `KrakenD Version ${GW_VERSION}`,
    shared: opts.shared,
    workerId: opts.workerId,
    transform: opts.transform,
    onClose: (fn) => closers.push(fn),
  };

  const rootContext = (ns: string): CompileContext => ({
    service,
    path: `$.extra_config["${ns}"]`,
    logger,
    shared: opts.shared,
    workerId: opts.workerId,
    onClose: (fn) => closers.push(fn),
  });

  const router = new Router<Route>();
  /** Each endpoint path's methods, for auto_options (lura router/gin/router.go, urlCatalog). */
  const catalog = new Map<string, string[]>();
  (service.endpoints ?? []).forEach((ep, i) => {
    if (servedMethod(ep) === undefined) return; // Lura's router skips other methods
    const compiled = compileEndpoint(ep, i, service, rt);
    if (router.has(compiled.method, compiled.path)) return;
    router.add(compiled.method, compiled.path, { handler: compiled.handler, reads: compiled.reads });
    if (ROUTED_METHODS.has(compiled.method))
      catalog.set(compiled.path, [...(catalog.get(compiled.path) ?? []), compiled.method]);
    logger.debug(`[ENDPOINT: ${compiled.method} ${compiled.path}] pipeline: ${compiled.describe}`);
  });
  const recordUnmatched = compileUnmatchedRecorder(service, rootContext);
  const autoOptions = routerOpts.auto_options === true;
  if (autoOptions) {
    // lura router/gin/router.go, registerOptionEndpoints: an OPTIONS route per endpoint path,
    // answering 200 with its methods sorted (Go's sort.Strings) and X-Krakend; no body.
    for (const [path, methods] of catalog) {
      if (router.has('OPTIONS', path)) continue;
      const answer: GwResponse = {
        status: 200,
        headers: { allow: [...methods].sort().join(', '), 'x-krakend': versionHeader },
        body: '',
      };
      // Telemetry counts it with the answers no endpoint gives (no http_route).
      const handler: Handler =
        recordUnmatched === undefined
          ? (_req, reply) => reply.answer(answer)
          : (req, reply) => {
              recordUnmatched(req, answer, performance.now());
              reply.answer(answer);
            };
      router.add('OPTIONS', path, { handler, reads: recordUnmatched === undefined ? READS_NONE : null });
    }
  }
  if (!routerOpts.disable_health) {
    const healthPath = routerOpts.health_path ?? '/__health';
    if (!router.has('GET', healthPath))
      router.add('GET', healthPath, {
        handler: handlerOf(healthHandler(agentReports(service, opts.shared))),
        reads: READS_NONE,
      });
  }
  const debug = service.debug_endpoint === true ? handlerOf(debugHandler(logger)) : undefined;
  const echo = service.echo_endpoint === true ? handlerOf(echoHandler) : undefined;
  const builtins = debug !== undefined || echo !== undefined;

  const removeDuplicateSlash = routerOpts.remove_duplicate_slash === true;
  const redirectTrailingSlash =
    routerOpts.disable_redirect_trailing_slash !== true && routerOpts.redirect_trailing_slash !== false;
  const redirectFixedPath =
    routerOpts.disable_redirect_fixed_path !== true && routerOpts.redirect_fixed_path !== false;
  const handleMethodNotAllowed = routerOpts.disable_handle_method_not_allowed !== true;
  const clientIp = compileClientIp(routerOpts);
  const notFound = errorBody(routerOpts, 404, '404 page not found', versionHeader);
  const methodNotAllowed = errorBody(routerOpts, 405, '405 method not allowed', versionHeader);
  const treeOrder = ginTreeOrder(service, routerOpts, autoOptions);

  /**
   * gin's redirect (gin.go, redirectRequest → Go's http.Redirect): 301 for GET, 307 otherwise, the
   * query kept; a GET gets Go's small HTML body, other methods no body and no Content-Type.
   */
  const redirect = (req: GwRequest, location: string): GwResponse => {
    const path = goRedirectPath(location);
    const target = req.query === '' ? path : `${path}?${req.query}`;
    if (req.method !== 'GET') return { status: 307, headers: { location: target }, body: '' };
    return {
      status: 301,
      headers: { location: target, 'content-type': 'text/html; charset=utf-8' },
      body: `<a href="${htmlEscape(target)}">Moved Permanently</a>.\n\n`,
    };
  };

  /** gin redirects only to a path its tree for the request's method holds (gin.go, handleHTTPRequest). */
  const hasRoute = (method: string, path: string) => router.lookup(method, path).kind === 'found';
  const lookupAlternatives = (req: GwRequest, path: string): GwResponse | undefined => {
    if (req.method === 'CONNECT' || path === '/') return undefined;
    if (redirectTrailingSlash) {
      const alt = path.endsWith('/') ? path.slice(0, -1) : `${path}/`;
      if (hasRoute(req.method, alt)) return redirect(req, forwardedPrefix(req) + alt);
    }
    if (redirectFixedPath) {
      const cleaned = cleanPath(path);
      if (cleaned !== path && hasRoute(req.method, cleaned)) return redirect(req, cleaned);
      const fixed = router.fixedPath(cleaned);
      if (fixed !== undefined && hasRoute(req.method, fixed)) return redirect(req, fixed);
    }
    return undefined;
  };

  /** The router's own answer to a request whose path or method no route has. */
  const unmatched = (req: GwRequest, path: string, found: Unmatched): GwResponse => {
    // gin tries its redirects (in the request method's tree) before the 405.
    const alternative = lookupAlternatives(req, path);
    if (alternative !== undefined) return alternative;
    if (found.kind === 'method-not-allowed' && handleMethodNotAllowed) {
      // gin looks the path up in every other method's tree: a method may route it through
      // another pattern (GET /items/{id} and POST /items/new both take /items/new).
      const allow = treeOrder
        .filter((m) => m !== req.method && (found.allow.includes(m) || hasRoute(m, path)))
        .join(', ');
      return { ...methodNotAllowed, headers: { ...methodNotAllowed.headers, allow } };
    }
    return notFound;
  };

  // Async agents consume in one worker only (src/async/agents.ts says why).
  const agents = opts.workerId === 0 && agentsOf(service).length > 0 ? startAgents(service, rt) : undefined;

  // The last lookup, kept: the uWS front asks what a path reads, then has it served, with one
  // walk of the router (the route table never changes, so a kept result is never stale).
  let lastMethod = '';
  let lastPath = '';
  let lastFound: LookupResult<Route> | undefined;
  const lookup = (method: string, path: string): LookupResult<Route> => {
    if (path === lastPath && method === lastMethod && lastFound !== undefined) return lastFound;
    lastFound = router.lookup(method, path);
    lastMethod = method;
    lastPath = path;
    return lastFound;
  };

  /** The route that serves `req` (its params set), or the answer when no endpoint does. */
  const dispatch: Handler = (req, reply) => {
    let path = req.path;
    if (removeDuplicateSlash && path.includes('//')) {
      path = path.replace(/\/{2,}/g, '/');
      req.path = path;
    }
    if (builtins && path.charCodeAt(1) === 95 && path.startsWith('/__')) {
      if (debug !== undefined && (path === '/__debug' || path.startsWith('/__debug/'))) {
        debug(req, reply);
        return;
      }
      if (echo !== undefined && (path === '/__echo' || path.startsWith('/__echo/'))) {
        echo(req, reply);
        return;
      }
    }
    const found = lookup(req.method, path);
    if (found.kind === 'found') {
      let refused = found.params === NO_PARAMS ? undefined : paramsRefusal(found.params);
      if (refused === undefined && found.rest !== undefined) {
        refused = restRefusal(found.rest);
        req.wildcard = found.rest;
      }
      if (refused !== undefined) {
        reply.answer(plain(400, refused));
        return;
      }
      req.params = found.params;
      found.value.handler(req, reply);
      return;
    }
    if (recordUnmatched === undefined) {
      reply.answer(unmatched(req, path, found));
      return;
    }
    // Timed from the miss, as a matched endpoint's global layer is timed from after routing: reading
    // the clock before the lookup would cost every matched request.
    const started = performance.now();
    const res = unmatched(req, path, found);
    recordUnmatched(req, res, started);
    reply.answer(res);
  };

  // The service middlewares (CORS, security headers, service rate limit) around the router.
  const rootExtra = service.extra_config ?? {};
  const serviceMiddlewares: EndpointMiddleware[] = [];
  for (const ns of namespacesInRunOrder(rootExtra).reverse()) {
    const mod = moduleFor(ns);
    const mw = mod?.service?.(rootExtra[ns], rootContext(ns));
    if (mw) serviceMiddlewares.unshift(mw);
  }
  const routed = chainEndpoint(serviceMiddlewares, dispatch);
  const serve: Handler =
    clientIp !== undefined
      ? (req, reply) => {
          req.clientIp = clientIp(req);
          routed(req, reply);
        }
      : routed;

  const readsAnyHeader = serviceMiddlewares.length > 0 || clientIp !== undefined;
  const headerReads = (method: string, path: string): readonly string[] | null => {
    if (readsAnyHeader || (builtins && path.startsWith('/__'))) return null;
    if (removeDuplicateSlash && path.includes('//')) return null;
    const found = lookup(method, path);
    if (found.kind === 'found') return found.value.reads;
    // What telemetry records of an unmatched request may read any header (a trace's parent).
    if (recordUnmatched !== undefined) return null;
    return redirectTrailingSlash ? READS_PREFIX : READS_NONE;
  };

  return {
    serve,
    headerReads,
    handle: stageOf(serve),
    // Called by the front as it writes the answer: no promise layer per request for logging.
    accessLog: compileAccessLog(service, logger),
    routes: router.patterns,
    async close(deadlineMs = 10000) {
      // Agents first: their messages in flight still need the backends (and their pools).
      await agents?.stop(deadlineMs);
      for (const fn of closers) await fn();
      await pools.close();
    },
  };
}
