// One gateway application: the compiled route table plus the router options of the
// "Router Options" page, turned into a single request handler for the HTTP front.

import { BlockList, isIP } from 'node:net';
import type { Logger } from 'pino';
import { featureByNamespace, namespacesInRunOrder } from '../extensions/registry.js';
import { GW_VERSION } from '../proxy/backend-request.js';
import { compileEndpoint, type EndpointRuntime } from '../proxy/endpoint.js';
import { PoolRegistry } from '../proxy/http-client.js';
import { type AccessLog, compileAccessLog } from '../telemetry/access-log.js';
import type {
  CompileContext,
  DirectStage,
  EndpointStage,
  GwRequest,
  GwResponse,
  LaneMatch,
  LaneStage,
  Reply,
  ServiceConfig,
  UnmatchedRecorder,
} from '../types.js';
import { debugHandler, echoHandler, healthHandler } from './builtin.js';
import { cleanPath, type LookupResult, paramsRefusal, Router } from './router.js';

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

/** What the router finds: the endpoint's pipeline, and its direct form when it has one. */
interface Route {
  stage: EndpointStage;
  direct: DirectStage | undefined;
  lane: LaneStage | undefined;
}

function answerWhenSettled(pending: Promise<GwResponse>, reply: Reply): void {
  pending.then(
    (res) => reply.answer(res),
    () => reply.answer(plain(500, '500 Internal Server Error')),
  );
}

export interface GatewayApp {
  handle: (req: GwRequest) => Promise<GwResponse>;
  /** The same as `handle`, answering through a Reply; undefined when a service middleware wraps the router. */
  serve: DirectStage | undefined;
  /**
   * The pass-through lane's route for a GET path, when one serves it (src/proxy/passthrough-lane.ts);
   * undefined when no route has a lane or something around the router must see every request.
   */
  lane: ((path: string) => LaneMatch | undefined) | undefined;
  /** The access log (undefined when off): the front calls it once a request is answered. */
  accessLog: AccessLog | undefined;
  close(): Promise<void>;
  routes: Array<{ method: string; pattern: string }>;
}

const NO_PARAMS: Record<string, string> = Object.freeze({}) as Record<string, string>;

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

function errorBody(opts: RouterOptions, code: number, fallback: string): GwResponse {
  const custom = opts.error_body?.[String(code)];
  if (custom !== undefined)
    return {
      status: code,
      headers: { 'content-type': 'application/json; charset=utf-8' },
      body: JSON.stringify(custom),
    };
  return plain(code, fallback);
}

/** A lookup that found no route. */
type Unmatched = Exclude<LookupResult<Route>, { kind: 'found' }>;

/** What the root namespaces record of the requests no endpoint serves; undefined when none does. */
function compileUnmatchedRecorder(
  service: ServiceConfig,
  ctxFor: (ns: string) => CompileContext,
): UnmatchedRecorder | undefined {
  const rootExtra = service.extra_config ?? {};
  const recorders: UnmatchedRecorder[] = [];
  for (const ns of namespacesInRunOrder(rootExtra)) {
    const mod = featureByNamespace.get(ns);
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
  const rt: EndpointRuntime = {
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
  let paramLanes = 0;
  /** Lanes of paths without params: found with one map lookup, their (empty) params shared. */
  const staticLanes = new Map<string, LaneMatch>();
  (service.endpoints ?? []).forEach((ep, i) => {
    const compiled = compileEndpoint(ep, i, service, rt);
    if (router.has(compiled.method, compiled.path)) return;
    router.add(compiled.method, compiled.path, {
      stage: compiled.stage,
      direct: compiled.direct,
      lane: compiled.lane,
    });
    if (compiled.lane === undefined) return;
    if (compiled.path.includes('{')) paramLanes++;
    else staticLanes.set(compiled.path, { lane: compiled.lane, params: NO_PARAMS });
  });
  if (!routerOpts.disable_health) {
    const healthPath = routerOpts.health_path ?? '/__health';
    if (!router.has('GET', healthPath))
      router.add('GET', healthPath, { stage: healthHandler, direct: undefined, lane: undefined });
  }
  const debug = service.debug_endpoint === true ? debugHandler(logger) : undefined;
  const echo = service.echo_endpoint === true ? echoHandler : undefined;

  const removeDuplicateSlash = routerOpts.remove_duplicate_slash === true;
  const redirectTrailingSlash =
    routerOpts.disable_redirect_trailing_slash !== true && routerOpts.redirect_trailing_slash !== false;
  const redirectFixedPath =
    routerOpts.disable_redirect_fixed_path !== true && routerOpts.redirect_fixed_path !== false;
  const autoOptions = routerOpts.auto_options === true;
  const handleMethodNotAllowed = routerOpts.disable_handle_method_not_allowed !== true;
  const clientIp = compileClientIp(routerOpts);
  const notFound = errorBody(routerOpts, 404, '404 page not found');
  const methodNotAllowed = errorBody(routerOpts, 405, '405 method not allowed');

  const redirect = (req: GwRequest, location: string): GwResponse => {
    const code = req.method === 'GET' ? 301 : 307;
    const target = req.query === '' ? location : `${location}?${req.query}`;
    return {
      status: code,
      headers: { location: target, 'content-type': 'text/html; charset=utf-8' },
      body: '',
    };
  };

  const lookupAlternatives = (req: GwRequest, path: string): GwResponse | undefined => {
    if (redirectTrailingSlash && path !== '/') {
      const alt = path.endsWith('/') ? path.slice(0, -1) : `${path}/`;
      if (router.lookup(req.method, alt).kind !== 'not-found') return redirect(req, alt);
    }
    if (redirectFixedPath) {
      const cleaned = cleanPath(path);
      if (cleaned !== path && router.lookup(req.method, cleaned).kind !== 'not-found')
        return redirect(req, cleaned);
      const fixed = router.fixedPath(cleaned);
      if (fixed !== undefined) return redirect(req, fixed);
    }
    return undefined;
  };

  /** The router's own answer to a request whose path or method no route has. */
  const unmatched = (req: GwRequest, path: string, found: Unmatched): GwResponse => {
    if (found.kind === 'method-not-allowed') {
      if (autoOptions && req.method === 'OPTIONS') {
        return {
          status: 200,
          headers: { allow: [...found.allow, 'OPTIONS'].join(', '), 'content-length': '0' },
          body: '',
        };
      }
      if (handleMethodNotAllowed)
        return {
          ...methodNotAllowed,
          headers: { ...methodNotAllowed.headers, allow: found.allow.join(', ') },
        };
      return notFound;
    }
    return lookupAlternatives(req, path) ?? notFound;
  };

  const recordUnmatched = compileUnmatchedRecorder(service, rootContext);

  /** The route that serves `req` (its params set), or the answer when no endpoint does. */
  const route = (req: GwRequest): Route | Promise<GwResponse> => {
    let path = req.path;
    if (removeDuplicateSlash && path.includes('//')) {
      path = path.replace(/\/{2,}/g, '/');
      req.path = path;
    }
    if (debug !== undefined && (path === '/__debug' || path.startsWith('/__debug/'))) return debug(req);
    if (echo !== undefined && (path === '/__echo' || path.startsWith('/__echo/'))) return echo(req);
    const found = router.lookup(req.method, path);
    if (found.kind === 'found') {
      const refused = paramsRefusal(found.params);
      if (refused !== undefined) return Promise.resolve(plain(400, refused));
      req.params = found.params;
      return found.value;
    }
    if (recordUnmatched === undefined) return Promise.resolve(unmatched(req, path, found));
    // Timed from the miss, as a matched endpoint's global layer is timed from after routing: reading
    // the clock before the lookup would cost every matched request.
    const started = performance.now();
    const res = unmatched(req, path, found);
    recordUnmatched(req, res, started);
    return Promise.resolve(res);
  };

  const dispatch: EndpointStage = (req) => {
    const found = route(req);
    return found instanceof Promise ? found : found.stage(req);
  };

  let handle: EndpointStage = dispatch;
  const rootExtra = service.extra_config ?? {};
  for (const ns of namespacesInRunOrder(rootExtra).reverse()) {
    const mod = featureByNamespace.get(ns);
    if (!mod?.service) continue;
    const mw = mod.service(rootExtra[ns], rootContext(ns));
    if (mw) handle = mw(handle);
  }

  const inner = handle;
  const withIp: EndpointStage = clientIp
    ? (req) => {
        req.clientIp = clientIp(req);
        return inner(req);
      }
    : inner;

  // With no service-wide middleware or client-IP rule around the router, the front may hand
  // requests straight to it: routes with a direct stage answer without promise hops.
  const serve: DirectStage | undefined =
    handle === dispatch && !clientIp
      ? (req, reply) => {
          const found = route(req);
          if (found instanceof Promise) answerWhenSettled(found, reply);
          else if (found.direct !== undefined) found.direct(req, reply);
          else answerWhenSettled(found.stage(req), reply);
        }
      : undefined;

  // The lane skips route(): only where route() would do a plain lookup of the path as it came.
  const builtins = debug !== undefined || echo !== undefined;
  const lane =
    serve !== undefined && staticLanes.size + paramLanes > 0 && !removeDuplicateSlash
      ? (path: string): LaneMatch | undefined => {
          if (builtins && path.startsWith('/__')) return undefined;
          const fixed = staticLanes.get(path);
          // Other GET routes pay one map lookup for the lane, not a second walk of the router.
          if (fixed !== undefined || paramLanes === 0) return fixed;
          const found = router.lookup('GET', path);
          if (found.kind !== 'found' || found.value.lane === undefined) return undefined;
          // Refused params are answered by route(), off the lane.
          if (paramsRefusal(found.params) !== undefined) return undefined;
          return { lane: found.value.lane, params: found.params };
        }
      : undefined;

  return {
    handle: withIp,
    serve,
    lane,
    // Called by the front as it writes the answer: no promise layer per request for logging.
    accessLog: compileAccessLog(service, logger),
    routes: router.patterns,
    async close() {
      for (const fn of closers) await fn();
      await pools.close();
    },
  };
}
