// `validation/cel`: Common Expression Language checks on requests and responses, at endpoint
// and backend level, as the "Conditional requests and responses with CEL" page describes.
//
// As krakend-cel does (internal/cel.go parseByKey), an expression is a *request* check when its
// text contains `req`, a *response* check when it contains `resp`, and a JWT check (run by
// auth/validator) when it contains `JWT`; one that contains none of them is never evaluated
// (gw says so at startup). Each is type-checked against the variables krakend-cel declares
// (defaultDeclarations): one that does not check — an unknown variable such as `resp_headers`,
// an operator on the wrong types — is skipped, as krakend-cel skips it, with a warning.
// Evaluators are numbered within their phase, as proxy.go evalChecks numbers them.
// Expressions are parsed once at startup; per request only the activation object is built.

import { Environment } from '@marcbachmann/cel-js';
import { canonicalHeader } from '../proxy/backend-request.js';
import { rawNumberText } from '../proxy/encodings.js';
import { isObject } from '../security/util.js';
import {
  type BackendConfig,
  BackendError,
  type BackendMiddleware,
  type BackendRequest,
  type CompileContext,
  type ConfigIssue,
  type EndpointConfig,
  type FeatureModule,
  type GwRequest,
  type HeaderMap,
  type ProxyMiddleware,
  type ProxyResponse,
  type ResponseHeaders,
} from '../types.js';
import { CEL_SCHEMA } from './cel-settings.js';

export const CEL_NAMESPACE = 'validation/cel';

export type CelPhase = 'req' | 'resp' | 'jwt';

export interface CelCheck {
  index: number;
  source: string;
  eval: (activation: Record<string, unknown>) => unknown;
}

/** Raised when a check does not hold; the message is KrakenD's. */
export class CelRejection extends Error {}

/**
 * `has(x['key'])` is not a field selection, so strict CEL (and cel-go) refuses it, but the
 * docs use it for query strings with brackets: read it as `'key' in x`.
 */
const HAS_INDEX = /has\(\s*([A-Za-z_][\w.]*)\s*\[\s*('(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")\s*\]\s*\)/g;

export function normaliseExpression(expr: string): string {
  return expr.replace(HAS_INDEX, (_m, target: string, key: string) => `(${key} in ${target})`);
}

/** krakend-cel internal/cel.go parseByKey: a phase takes the expressions whose text contains its key. */
export function phasesOf(expr: string): CelPhase[] {
  const out: CelPhase[] = [];
  if (expr.includes('req')) out.push('req');
  if (expr.includes('resp')) out.push('resp');
  if (expr.includes('JWT')) out.push('jwt');
  return out;
}

/** krakend-cel internal/cel.go defaultDeclarations. */
const celEnvironment = new Environment()
  .registerVariable('now', 'string')
  .registerVariable('req_method', 'string')
  .registerVariable('req_path', 'string')
  .registerVariable('req_params', 'map<string, string>')
  .registerVariable('req_headers', 'map<string, list<string>>')
  .registerVariable('req_querystring', 'map<string, list<string>>')
  .registerVariable('resp_completed', 'bool')
  .registerVariable('resp_metadata_status', 'int')
  .registerVariable('resp_metadata_headers', 'map<string, list<string>>')
  .registerVariable('resp_data', 'map<string, dyn>')
  .registerVariable('JWT', 'map<string, dyn>');

/** Parses an expression (throws on a syntax error) and type-checks it against krakend-cel's variables. */
export function parseCel(expr: string): {
  eval: (a: Record<string, unknown>) => unknown;
  checkError?: string;
} {
  const fn = celEnvironment.parse(normaliseExpression(expr));
  const checked = fn.check();
  return {
    eval: (a) => fn(a),
    checkError: checked.valid ? undefined : (checked.error?.message ?? 'type check failed').split('\n')[0],
  };
}

interface CelDefinition {
  check_expr: string;
}

function definitions(cfg: unknown): CelDefinition[] {
  if (!Array.isArray(cfg)) return [];
  return cfg.filter((d): d is CelDefinition => isObject(d) && typeof d.check_expr === 'string');
}

/**
 * Compiles the expressions of one `validation/cel` array that belong to `phase`; `warn` hears
 * of those skipped because they do not type-check.
 */
export function compileCelChecks(
  cfg: unknown,
  phase: CelPhase,
  warn?: (message: string) => void,
): CelCheck[] {
  const out: CelCheck[] = [];
  for (const d of definitions(cfg)) {
    if (!phasesOf(d.check_expr).includes(phase)) continue;
    const { eval: evaluate, checkError } = parseCel(d.check_expr);
    if (checkError !== undefined) {
      warn?.(
        `skipped, as KrakenD skips it: ${JSON.stringify(d.check_expr)} does not type-check (${checkError})`,
      );
      continue;
    }
    out.push({ index: out.length, source: d.check_expr, eval: evaluate });
  }
  return out;
}

/** Logs, once at startup, the expressions no phase takes (KrakenD never evaluates them). */
function warnUnphased(cfg: unknown, warn: (message: string) => void): void {
  for (const d of definitions(cfg))
    if (phasesOf(d.check_expr).length === 0)
      warn(
        `never evaluated, as in KrakenD: ${JSON.stringify(d.check_expr)} names no req, resp or JWT variable`,
      );
}

/**
 * A backend's JSON reaches krakend-cel decoded with UseNumber: numbers are json.Number, a Go
 * string type, which cel-go adapts as CEL strings (`resp_data.id == '42'`, `int(resp_data.id)`).
 */
function numbersAsStrings(v: unknown): unknown {
  if (typeof v === 'number') return String(v);
  if (v === null || typeof v !== 'object') return v;
  const raw = rawNumberText(v);
  if (raw !== undefined) return raw;
  if (Array.isArray(v)) return v.map(numbersAsStrings);
  const out: Record<string, unknown> = {};
  for (const k in v as Record<string, unknown>) out[k] = numbersAsStrings((v as Record<string, unknown>)[k]);
  return out;
}

/** Runs the checks in order; returns the index of the first one that is not `true` (errors count as false). */
export function firstFailing(checks: readonly CelCheck[], activation: Record<string, unknown>): number {
  for (let i = 0; i < checks.length; i++) {
    let ok: unknown;
    try {
      ok = checks[i].eval(activation);
    } catch {
      ok = false;
    }
    if (ok !== true) return checks[i].index;
  }
  return -1;
}

/** `now` as krakend-cel formats it (proxy.go: "2006-01-02T15:04:05.999Z07:00"), in UTC. */
let nowMs = -1;
let nowText = '';
export function nowRfc3339(): string {
  const ms = Date.now();
  if (ms !== nowMs) {
    nowMs = ms;
    const iso = new Date(ms).toISOString();
    const frac = iso.slice(20, 23).replace(/0+$/, '');
    nowText = `${iso.slice(0, 19)}${frac === '' ? '' : `.${frac}`}Z`;
  }
  return nowText;
}

const EMPTY: Record<string, never> = Object.freeze({}) as Record<string, never>;

/** Endpoint params with the first letter capitalised, as lura exposes them (`{id_user}` → `Id_user`). */
function capitalisedParams(params: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const k in params) out[k.length > 0 ? k[0].toUpperCase() + k.slice(1) : k] = params[k];
  return out;
}

function safeDecode(s: string): string {
  if (!s.includes('%') && !s.includes('+')) return s;
  try {
    return decodeURIComponent(s.replace(/\+/g, ' '));
  } catch {
    return s;
  }
}

/** Query string → name → values, keeping only the allowed names (null = all). */
function queryMap(query: string, allowed: Set<string> | null): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  if (query === '') return out;
  for (const pair of query.split('&')) {
    if (pair === '') continue;
    const eq = pair.indexOf('=');
    const key = safeDecode(eq < 0 ? pair : pair.slice(0, eq));
    if (allowed !== null && !allowed.has(key)) continue;
    const value = safeDecode(eq < 0 ? '' : pair.slice(eq + 1));
    const prev = out[key];
    if (prev) prev.push(value);
    else out[key] = [value];
  }
  return out;
}

/** Backend request headers (canonical names already) → name → [value]. */
function headerLists(headers: HeaderMap): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const k in headers) out[k] = [headers[k]];
  return out;
}

function responseHeaderLists(headers: ResponseHeaders | undefined): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  if (!headers) return out;
  for (const k in headers) {
    const v = headers[k];
    out[canonicalHeader(k)] = typeof v === 'string' ? [v] : v;
  }
  return out;
}

/**
 * What lura's endpoint request carries: only the `input_headers` (all with `*`) plus
 * X-Forwarded-For, X-Forwarded-Host and User-Agent; only the `input_query_strings`.
 */
function compileEndpointRequestView(endpoint: EndpointConfig | undefined) {
  const inputHeaders = endpoint?.input_headers ?? [];
  const allHeaders = inputHeaders.includes('*');
  const headerPairs = inputHeaders.filter((h) => h !== '*').map((h) => [h.toLowerCase(), h] as const);
  const inputQuery = endpoint?.input_query_strings ?? [];
  const allowedQuery = inputQuery.includes('*') ? null : new Set(inputQuery);
  const method = (endpoint?.method ?? 'GET').toUpperCase();
  return (req: GwRequest) => {
    const headers: Record<string, string[]> = {};
    const h = req.headers;
    if (allHeaders) for (const k in h) headers[canonicalHeader(k)] = [h[k]];
    else
      for (const [lower, name] of headerPairs) {
        const v = h[lower] ?? req.extraBackendHeaders?.[canonicalHeader(lower)];
        if (v !== undefined) headers[name] = [v];
      }
    if (req.extraBackendHeaders && allHeaders)
      for (const k in req.extraBackendHeaders) headers[k] = [req.extraBackendHeaders[k]];
    headers['X-Forwarded-For'] = [req.clientIp];
    if (h.host !== undefined) headers['X-Forwarded-Host'] = [h.host];
    if (headers['User-Agent'] === undefined) headers['User-Agent'] = ['KrakenD Version 0.1.0'];
    return {
      req_method: method,
      req_path: req.path,
      req_params: capitalisedParams(req.params),
      req_headers: headers,
      req_querystring:
        allowedQuery === null || allowedQuery.size > 0 ? queryMap(req.query, allowedQuery) : {},
      now: nowRfc3339(),
    };
  };
}

function backendRequestActivation(breq: BackendRequest): Record<string, unknown> {
  const q = breq.path.indexOf('?');
  return {
    req_method: breq.method,
    req_path: q < 0 ? breq.path : breq.path.slice(0, q),
    req_params: capitalisedParams(breq.params),
    req_headers: headerLists(breq.headers),
    req_querystring: q < 0 ? EMPTY : queryMap(breq.path.slice(q + 1), null),
    now: nowRfc3339(),
  };
}

function proxyResponseActivation(pr: ProxyResponse): Record<string, unknown> {
  const noop = pr.raw !== undefined;
  return {
    resp_completed: pr.isComplete,
    resp_metadata_status: BigInt(noop ? (pr.status ?? 200) : 0),
    resp_metadata_headers: noop ? responseHeaderLists(pr.headers) : EMPTY,
    resp_data: pr.data ? numbersAsStrings(pr.data) : EMPTY,
    now: nowRfc3339(),
  };
}

/**
 * The backend's own manipulation (target → allow/deny → mapping → group), as the data that
 * backend-level response checks see. A read-only view: the input is not modified.
 */
function compileBackendView(
  backend: BackendConfig | undefined,
): ((data: Record<string, unknown>) => Record<string, unknown>) | undefined {
  if (!backend) return undefined;
  const target = backend.target ? backend.target.split('.') : undefined;
  const allow =
    backend.allow && backend.allow.length > 0 ? backend.allow.map((a) => a.split('.')) : undefined;
  const deny =
    !allow && backend.deny && backend.deny.length > 0 ? backend.deny.map((d) => d.split('.')) : undefined;
  const mapping = backend.mapping
    ? Object.entries(backend.mapping).map(([from, to]) => [from.split('.')[0], to] as const)
    : [];
  const group = backend.group;
  if (!target && !allow && !deny && mapping.length === 0 && !group) return undefined;
  const pick = (src: unknown, path: string[], dst: Record<string, unknown>) => {
    let s = src;
    let d = dst;
    for (let i = 0; i < path.length; i++) {
      if (!isObject(s) || !Object.hasOwn(s, path[i])) return;
      if (i === path.length - 1) d[path[i]] = s[path[i]];
      else {
        const next = isObject(d[path[i]]) ? (d[path[i]] as Record<string, unknown>) : {};
        d[path[i]] = next;
        d = next;
        s = s[path[i]];
      }
    }
  };
  const drop = (obj: Record<string, unknown>, path: string[]): Record<string, unknown> => {
    if (!Object.hasOwn(obj, path[0])) return obj;
    const copy = { ...obj };
    if (path.length === 1) delete copy[path[0]];
    else if (isObject(copy[path[0]]))
      copy[path[0]] = drop(copy[path[0]] as Record<string, unknown>, path.slice(1));
    return copy;
  };
  return (input) => {
    let data: Record<string, unknown> = input;
    if (target) {
      let cur: unknown = data;
      for (const seg of target) cur = isObject(cur) ? cur[seg] : undefined;
      data = isObject(cur) ? cur : {};
    }
    if (allow) {
      const out: Record<string, unknown> = {};
      for (const p of allow) pick(data, p, out);
      data = out;
    } else if (deny) for (const p of deny) data = drop(data, p);
    if (mapping.length > 0) {
      data = { ...data };
      for (const [from, to] of mapping)
        if (Object.hasOwn(data, from)) {
          data[to] = data[from];
          delete data[from];
        }
    }
    return group ? { [group]: data } : data;
  };
}

function reject(index: number): never {
  throw new CelRejection(`request aborted by evaluator #${index}`);
}

/** One layer's checks: `req` ones run before the layer passes the request on, `resp` ones after. */
interface LayerChecks {
  pre: CelCheck[];
  post: CelCheck[];
}

/**
 * Compiles one layer's checks, warning (as krakend-cel does at startup) of those that never run;
 * `name` is the layer as krakend-cel's logs print it. Undefined when nothing is left to check.
 */
function compileLayerChecks(
  cfg: unknown,
  name: string,
  logger: CompileContext['logger'],
): LayerChecks | undefined {
  const warn = (message: string) => logger.warn(`[${name}][CEL] ${message}`);
  warnUnphased(cfg, warn);
  const pre = compileCelChecks(cfg, 'req', warn);
  const post = compileCelChecks(cfg, 'resp', warn);
  return pre.length === 0 && post.length === 0 ? undefined : { pre, post };
}

/** The first failing check's index, logged as krakend-cel logs an abort; -1 when all pass. */
function abortingCheck(
  checks: readonly CelCheck[],
  activation: Record<string, unknown>,
  logger: CompileContext['logger'],
  name: string,
  what: 'request' | 'response',
): number {
  const failed = firstFailing(checks, activation);
  if (failed >= 0) logger.info(`[${name}][CEL] ${what} aborted by evaluator #${failed}`);
  return failed;
}

function validate(cfg: unknown, path: string): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  if (!Array.isArray(cfg)) return [{ path, message: 'expected an array of {"check_expr": "..."} objects' }];
  cfg.forEach((d, i) => {
    if (!isObject(d) || typeof d.check_expr !== 'string') {
      issues.push({ path: `${path}[${i}]`, message: 'expected an object with a string "check_expr"' });
      return;
    }
    try {
      parseCel(d.check_expr);
    } catch (err) {
      issues.push({
        path: `${path}[${i}].check_expr`,
        message: `invalid CEL expression: ${(err instanceof Error ? err.message : String(err)).split('\n')[0]}`,
      });
    }
  });
  return issues;
}

export const celModule: FeatureModule = {
  namespace: CEL_NAMESPACE,
  schema: CEL_SCHEMA,
  validate,

  proxy(cfg: unknown, ctx: CompileContext): ProxyMiddleware | undefined {
    const name = `ENDPOINT: ${ctx.endpoint?.endpoint ?? ''}`;
    const logger = ctx.logger;
    const checks = compileLayerChecks(cfg, name, logger);
    if (!checks) return undefined;
    const { pre, post } = checks;
    const view = compileEndpointRequestView(ctx.endpoint);
    return (next) => async (req) => {
      if (pre.length > 0) {
        const failed = abortingCheck(pre, view(req), logger, name, 'request');
        if (failed >= 0) reject(failed);
      }
      const pr = await next(req);
      if (post.length > 0) {
        const failed = abortingCheck(post, proxyResponseActivation(pr), logger, name, 'response');
        if (failed >= 0) {
          return {
            data: null,
            isComplete: false,
            error: new BackendError(`request aborted by evaluator #${failed}`, 500),
          };
        }
      }
      return pr;
    };
  },

  backend(cfg: unknown, ctx: CompileContext): BackendMiddleware | undefined {
    const name = `BACKEND: ${ctx.backend?.url_pattern ?? ''}`;
    const logger = ctx.logger;
    const checks = compileLayerChecks(cfg, name, logger);
    if (!checks) return undefined;
    const { pre, post } = checks;
    // KrakenD evaluates backend responses after the backend's own manipulation (group, target…).
    const manipulate = compileBackendView(ctx.backend);
    return (next) => async (breq) => {
      if (pre.length > 0) {
        const failed = abortingCheck(pre, backendRequestActivation(breq), logger, name, 'request');
        if (failed >= 0) reject(failed);
      }
      const res = await next(breq);
      if (post.length > 0) {
        let data: Record<string, unknown> = res.data ?? {};
        if (manipulate && res.data) data = manipulate(res.data);
        const activation = {
          resp_completed: true,
          resp_metadata_status: BigInt(res.data === undefined ? res.status : 0),
          resp_metadata_headers: res.data === undefined ? responseHeaderLists(res.headers) : EMPTY,
          resp_data: numbersAsStrings(data),
          now: nowRfc3339(),
        };
        const failed = abortingCheck(post, activation, logger, name, 'response');
        if (failed >= 0) reject(failed);
      }
      return res;
    };
  },
};
