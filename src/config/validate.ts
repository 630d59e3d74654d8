// `gw check`: the schema of the core objects (compiled once), the semantic checks the schema
// cannot express (routes, url_pattern variables, hosts, durations), and each extra_config
// namespace handed to its feature module. Everything is reported as a ConfigIssue with the
// JSON path of the offending value; an unknown namespace is a warning, never an error.

import { isIP } from 'node:net';
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import addFormats from 'ajv-formats';
import { AGENT_DRIVERS } from '../async/health.js';
import { transportHostIssues } from '../backends/transports.js';
import {
  ENTERPRISE_NAMESPACES,
  isKnownNamespace,
  moduleFor,
  unimplementedNamespace,
} from '../extensions/registry.js';
import { sanitizeHost } from '../proxy/util.js';
import { validateTls } from '../security/tls.js';
import { lintBackendManipulation, lintFlatmap, validateFlatmap } from '../transform/index.js';
import type { BackendConfig, ConfigIssue, EndpointConfig, FeatureModule, ServiceConfig } from '../types.js';
import { parseDuration } from './duration.js';
import { applyKrakendDefaults, servedMethod } from './krakend-defaults.js';
import {
  BACKEND_DURATIONS,
  coreNamespaceSchemas,
  ENDPOINT_DURATIONS,
  ROOT_DURATIONS,
  rootSchema,
} from './schema.js';

export interface CheckOptions {
  /** Also warn about risky settings and unknown properties (`gw check --lint`). */
  lint?: boolean;
}

export interface CheckResult {
  errors: ConfigIssue[];
  warnings: ConfigIssue[];
}

// ---------------------------------------------------------------------------------------------
// ajv: one instance, the core schema compiled once at module load, module schemas once each.

const ajv = new Ajv({ allErrors: true, strict: false, verbose: true, logger: false });
(addFormats as unknown as (a: Ajv) => void)(ajv);
ajv.addKeyword({ keyword: 'expected', schemaType: 'string' });
ajv.addKeyword({ keyword: 'gwAtParent', schemaType: 'boolean' });

const validateRoot = ajv.compile(rootSchema);
const coreNamespaceValidators = new Map<string, ValidateFunction>(
  Object.entries(coreNamespaceSchemas).map(([ns, schema]) => [ns, ajv.compile(schema)]),
);
const moduleValidators = new WeakMap<FeatureModule, ValidateFunction | Error>();

function moduleValidator(mod: FeatureModule): ValidateFunction | Error | undefined {
  if (!mod.schema) return undefined;
  let v = moduleValidators.get(mod);
  if (v === undefined) {
    try {
      v = ajv.compile(mod.schema);
    } catch (err) {
      v = err instanceof Error ? err : new Error(String(err));
    }
    moduleValidators.set(mod, v);
  }
  return v;
}

// ---------------------------------------------------------------------------------------------
// Paths and messages.

const IDENT = /^[A-Za-z_$][A-Za-z0-9_$]*$/;

/** `$.a` for identifier keys, `$["security/cors"]` for the rest. */
export function childPath(base: string, key: string | number): string {
  if (typeof key === 'number') return `${base}[${key}]`;
  return IDENT.test(key) ? `${base}.${key}` : `${base}[${JSON.stringify(key)}]`;
}

/** Turns an ajv instancePath (JSON pointer) into `$.endpoints[2].backend[0].host`, reading the data for array indexes. */
function pointerToPath(base: string, data: unknown, pointer: string): { path: string; parentPath: string } {
  let path = base;
  let parentPath = base;
  let cur: unknown = data;
  if (pointer === '') return { path, parentPath };
  for (const raw of pointer.slice(1).split('/')) {
    const key = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    parentPath = path;
    if (Array.isArray(cur) && /^\d+$/.test(key)) {
      path = childPath(path, Number(key));
      cur = cur[Number(key)];
    } else {
      path = childPath(path, key);
      cur = cur !== null && typeof cur === 'object' ? (cur as Record<string, unknown>)[key] : undefined;
    }
  }
  return { path, parentPath };
}

export function describeValue(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return v.length === 0 ? 'an empty array' : 'an array';
  switch (typeof v) {
    case 'string':
      return v.length > 60 ? `a string ("${v.slice(0, 57)}...")` : `the string ${JSON.stringify(v)}`;
    case 'number':
      return Number.isInteger(v) ? `the integer ${v}` : `the number ${v}`;
    case 'boolean':
      return `${v}`;
    case 'object':
      return 'an object';
    default:
      return typeof v;
  }
}

const TYPE_WORDS: Record<string, string> = {
  string: 'a string',
  integer: 'an integer',
  number: 'a number',
  boolean: 'a boolean (true or false)',
  object: 'an object',
  array: 'an array',
  null: 'null',
};

function typeWords(t: unknown): string {
  if (Array.isArray(t)) return t.map(typeWords).join(' or ');
  return TYPE_WORDS[String(t)] ?? String(t);
}

/** One ajv error → one issue, or undefined when another error already says it better. */
function issueFromAjv(e: ErrorObject, base: string, root: unknown): ConfigIssue | undefined {
  const parent = (e.parentSchema ?? {}) as Record<string, unknown>;
  let { path, parentPath } = pointerToPath(base, root, e.instancePath);
  let expected = typeof parent.expected === 'string' ? parent.expected : undefined;
  if (parent.gwAtParent === true) {
    // An item of a typed array (or a value of a typed map): name the whole container.
    path = parentPath;
    const container = containerSchemaOf(e.schemaPath);
    if (container?.expected) expected = String(container.expected);
    return {
      path,
      message: `expected ${expected ?? typeWords(parent.type)}, found an item that is ${describeValue(e.data)}`,
    };
  }
  switch (e.keyword) {
    case 'type':
      return {
        path,
        message: `expected ${expected ?? typeWords(e.params.type)}, found ${describeValue(e.data)}`,
      };
    case 'enum':
    case 'const':
      return {
        path,
        message: `expected ${expected ?? allowedWords(e)}, found ${describeValue(e.data)}`,
      };
    case 'required': {
      const prop = String(e.params.missingProperty);
      const propSchema = ((parent.properties ?? {}) as Record<string, Record<string, unknown>>)[prop];
      const what = propSchema?.expected ? ` (expected ${propSchema.expected})` : '';
      return { path: childPath(path, prop), message: `required property "${prop}" is missing${what}` };
    }
    case 'pattern':
    case 'minimum':
    case 'maximum':
    case 'exclusiveMinimum':
    case 'exclusiveMaximum':
    case 'minLength':
    case 'maxLength':
    case 'minItems':
    case 'maxItems':
    case 'format':
      return {
        path,
        message: `expected ${expected ?? constraintWords(e)}, found ${describeValue(e.data)}`,
      };
    case 'additionalProperties': {
      const key = String(e.params.additionalProperty);
      const near = nearestKey(key, Object.keys((parent.properties ?? {}) as object));
      return {
        path: childPath(path, key),
        message: `unknown property "${key}"${near ? ` (did you mean "${near}"?)` : ''}`,
      };
    }
    default:
      return { path, message: e.message ?? `invalid (${e.keyword})` };
  }
}

/** The known key within two edits of a misspelt one (`max_rat` → `max_rate`), if exactly one is. */
function nearestKey(key: string, known: string[]): string | undefined {
  const near = known.filter((k) => editDistance(key.toLowerCase(), k.toLowerCase()) <= 2);
  return near.length === 1 ? near[0] : undefined;
}

function editDistance(a: string, b: string): number {
  if (Math.abs(a.length - b.length) > 2) return 3;
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++)
      cur[j] = Math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    prev = cur;
  }
  return prev[b.length];
}

function allowedWords(e: ErrorObject): string {
  if (e.keyword === 'const') return JSON.stringify(e.params.allowedValue);
  const values = (e.params.allowedValues ?? []) as unknown[];
  return values.length === 1
    ? JSON.stringify(values[0])
    : `one of ${values.map((v) => JSON.stringify(v)).join(', ')}`;
}

/** What a failed constraint asks for, when the schema node has no `expected` text. */
function constraintWords(e: ErrorObject): string {
  const p = e.params as Record<string, unknown>;
  switch (e.keyword) {
    case 'pattern':
      return `a string matching /${p.pattern}/`;
    case 'format':
      return `a valid ${p.format}`;
    case 'minimum':
      return `a number ≥ ${p.limit}`;
    case 'maximum':
      return `a number ≤ ${p.limit}`;
    case 'exclusiveMinimum':
      return `a number > ${p.limit}`;
    case 'exclusiveMaximum':
      return `a number < ${p.limit}`;
    case 'minLength':
      return `a string of at least ${p.limit} character(s)`;
    case 'maxLength':
      return `a string of at most ${p.limit} character(s)`;
    case 'minItems':
      return `an array of at least ${p.limit} item(s)`;
    case 'maxItems':
      return `an array of at most ${p.limit} item(s)`;
    default:
      return e.message ?? 'a valid value';
  }
}

/**
 * anyOf/oneOf whose branches all fail on the value's type or enum: one issue listing the
 * alternatives ("expected a string or an integer") instead of one per branch.
 */
function mergeAlternatives(errors: ErrorObject[]): ErrorObject[] {
  const drop = new Set<ErrorObject>();
  const out: ErrorObject[] = [];
  for (const e of errors) {
    if (e.keyword !== 'anyOf' && e.keyword !== 'oneOf') continue;
    const prefix = `${e.schemaPath}/`;
    const branches = errors.filter((b) => b.schemaPath.startsWith(prefix));
    const simple =
      branches.length > 0 &&
      branches.every(
        (b) =>
          b.instancePath === e.instancePath &&
          (b.keyword === 'type' || b.keyword === 'enum' || b.keyword === 'const'),
      );
    if (!simple) {
      drop.add(e); // the branch errors say more than "must match a schema in anyOf"
      continue;
    }
    for (const b of branches) drop.add(b);
    const words = branches.map((b) => {
      const ps = (b.parentSchema ?? {}) as Record<string, unknown>;
      if (typeof ps.expected === 'string') return ps.expected;
      if (b.keyword === 'type') return typeWords(b.params.type);
      return allowedWords(b);
    });
    e.parentSchema = { expected: [...new Set(words)].join(' or ') };
    e.keyword = 'type';
  }
  for (const e of errors) if (!drop.has(e)) out.push(e);
  return out;
}

/** Finds the schema object holding `items`/`additionalProperties` for a gwAtParent error. */
function containerSchemaOf(schemaPath: string): Record<string, unknown> | undefined {
  const parts = schemaPath.replace(/^#\/?/, '').split('/');
  // …/<container>/items/type → container is two levels above the keyword.
  let node: unknown = currentSchemaRoot;
  for (const raw of parts.slice(0, -2)) {
    const key = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    if (node === null || typeof node !== 'object') return undefined;
    node = (node as Record<string, unknown>)[key];
  }
  return node !== null && typeof node === 'object' ? (node as Record<string, unknown>) : undefined;
}

let currentSchemaRoot: object = rootSchema;

function runSchema(
  validate: ValidateFunction,
  schema: object,
  data: unknown,
  base: string,
  out: ConfigIssue[],
): boolean {
  if (validate(data)) return true;
  currentSchemaRoot = schema;
  out.push(...issuesFromAjv(validate.errors ?? [], data, base));
  return false;
}

/** ajv errors (of an instance built with `verbose: true`) as issues with JSON paths, once each. */
export function issuesFromAjv(errors: ErrorObject[], data: unknown, base = '$'): ConfigIssue[] {
  const out: ConfigIssue[] = [];
  const seen = new Set<string>();
  for (const e of mergeAlternatives(errors)) {
    const issue = issueFromAjv(e, base, data);
    if (!issue) continue;
    const key = `${issue.path}\u0000${issue.message}`;
    if (seen.has(key)) continue;
    seen.add(key);
    out.push(issue);
  }
  return out;
}

const compiledOnDemand = new WeakMap<object, ValidateFunction>();

/** Validates `data` against `schema` (compiled on first use), reporting issues under `base`. */
export function schemaIssues(schema: object, data: unknown, base: string): ConfigIssue[] {
  let validate = compiledOnDemand.get(schema);
  if (validate === undefined) {
    validate = ajv.compile(schema);
    compiledOnDemand.set(schema, validate);
  }
  const out: ConfigIssue[] = [];
  runSchema(validate, schema, data, base, out);
  return out;
}

// ---------------------------------------------------------------------------------------------
// Semantic checks.

const isObject = (v: unknown): v is Record<string, unknown> =>
  v !== null && typeof v === 'object' && !Array.isArray(v);

/** Lura's parameter name syntax (`/\{([a-zA-Z\-_0-9]+)\}/`). */
const PARAM_NAME = /^[A-Za-z0-9_-]+$/;
const BRACED = /\{([^{}]*)\}/g;

interface ParsedRoute {
  params: string[];
  /** Pattern with every parameter name erased: two routes with the same shape are the same route. */
  shape: string;
  /** Segments mixing text and a parameter (`file.{ext}`): need disable_rest. */
  mixed: string[];
  problems: string[];
}

export function parseRoute(pattern: string): ParsedRoute {
  const params: string[] = [];
  const mixed: string[] = [];
  const problems: string[] = [];
  const segments = pattern.length <= 1 ? [] : pattern.slice(1).split('/');
  const shapeSegs: string[] = [];
  for (const seg of segments) {
    const opens = (seg.match(/\{/g) ?? []).length;
    const closes = (seg.match(/\}/g) ?? []).length;
    const names = [...seg.matchAll(BRACED)].map((m) => m[1]);
    if (opens !== closes || names.length !== opens) problems.push(`unbalanced braces in segment "${seg}"`);
    for (const n of names) {
      if (!PARAM_NAME.test(n))
        problems.push(
          n === ''
            ? 'empty parameter name "{}"'
            : `parameter name "{${n}}" is not valid (letters, digits, "_" and "-" only)`,
        );
      else if (params.includes(n)) problems.push(`parameter "{${n}}" appears twice`);
      params.push(n);
    }
    if (names.length > 0 && !/^\{[^{}]*\}$/.test(seg)) mixed.push(seg);
    shapeSegs.push(seg.replace(BRACED, '{}'));
  }
  return { params, shape: `/${shapeSegs.join('/')}`, mixed, problems };
}

/**
 * Why a pattern with `*` is not a wildcard endpoint, undefined when it is one or has no `*`: the
 * rules of the docs' "Wildcard Endpoints (EE)" page. One `*`, as the whole last segment, under at
 * least one level; a pattern that starts with a `{variable}` may hold nothing else (`/{foo}/*`).
 */
export function wildcardRefusal(pattern: string): string | undefined {
  if (!pattern.includes('*')) return undefined;
  const segments = pattern.length <= 1 ? [] : pattern.slice(1).split('/');
  const stars = (pattern.match(/\*/g) ?? []).length;
  if (stars > 1)
    return 'a wildcard endpoint has one "*", at the end (use {placeholders} for the levels before it, e.g. /v1/{service}/foo/*)';
  if (segments.at(-1) !== '*')
    return 'a wildcard endpoint ends in "/*" (a "*" elsewhere, or inside a segment, is not one)';
  if (segments.length === 1)
    return 'it would take all traffic: declare at least one level before the wildcard (e.g. /v1/*)';
  if (/^\{[^{}]*\}$/.test(segments[0]) && segments.length > 2)
    return 'a wildcard endpoint that starts with a {variable} has no other level: /{foo}/* is valid, /{foo}/bar/* is not';
  return undefined;
}

/** Variables of a url_pattern that are not endpoint parameters (gw fills them from elsewhere). */
const RESP_VAR = /^resp(\d+)(?:_(.+))?$/;
const SPECIAL_PREFIXES = ['JWT.', 'input_headers.', 'input_query_strings.'];

/** Backends that do not speak HTTP to a host (their transport lives in extra_config). */
export const HOSTLESS_NAMESPACES = [
  'backend/lambda',
  'backend/amqp/consumer',
  'backend/amqp/producer',
  'backend/pubsub/publisher',
  'backend/pubsub/subscriber',
  'backend/grpc',
  'backend/static-filesystem',
];

const DURATION_HINT = 'expected a Go duration like "300ms", "1.5s", "1m30s" (units ns, us, ms, s, m, h)';

/** Keys of the core objects whose value is a duration by name, for fields not listed in the schema. */
const DURATION_LIKE = /(timeout|_ttl|_delay|keep_alive|interval|^every)$/;

class Collector {
  readonly errors: ConfigIssue[] = [];
  readonly warnings: ConfigIssue[] = [];
  error(path: string, message: string): void {
    this.errors.push({ path, message });
  }
  warn(path: string, message: string): void {
    this.warnings.push({ path, message });
  }
}

function checkDurations(obj: Record<string, unknown>, base: string, listed: string[], c: Collector): void {
  for (const key of Object.keys(obj)) {
    const known = listed.includes(key);
    if (!known && (key.startsWith('@') || !DURATION_LIKE.test(key))) continue;
    const v = obj[key];
    if (typeof v !== 'string') continue; // a wrong type is the schema's error
    if (parseDuration(v) !== undefined) continue;
    const message = `invalid duration ${JSON.stringify(v)}${v.trim().startsWith('-') ? ' (negative)' : ''}: ${DURATION_HINT}`;
    // A setting gw does not read cannot break it: say so, but do not refuse the file.
    if (known) c.error(childPath(base, key), message);
    else c.warn(childPath(base, key), message);
  }
}

function checkStringList(v: unknown, path: string, c: Collector, what: string): string[] {
  if (!Array.isArray(v)) return [];
  v.forEach((item, i) => {
    if (typeof item === 'string' && item.trim() === '') c.error(`${path}[${i}]`, `empty ${what}`);
  });
  return v.filter((x): x is string => typeof x === 'string');
}

/** Each host must make a URL once sanitized as the proxy does (scheme added, trailing slash dropped). */
function checkHosts(v: unknown[], path: string, c: Collector, raw: boolean): void {
  checkStringList(v, path, c, 'host');
  v.forEach((item, i) => {
    if (typeof item !== 'string' || item.trim() === '') return;
    const url = raw ? item : sanitizeHost(item);
    if (!URL.canParse(url))
      c.error(
        `${path}[${i}]`,
        `expected a host URL like "http://api:8080", found ${describeValue(item)} (not a valid URL)`,
      );
  });
}

function isCidrOrIp(s: string): boolean {
  const [ip, bits, extra] = s.split('/');
  if (extra !== undefined) return false;
  const family = isIP(ip);
  if (family === 0) return false;
  if (bits === undefined) return true;
  if (!/^\d+$/.test(bits)) return false;
  return Number(bits) <= (family === 6 ? 128 : 32);
}

function checkRouter(cfg: Record<string, unknown>, base: string, c: Collector): void {
  if (Array.isArray(cfg.trusted_proxies))
    cfg.trusted_proxies.forEach((p, i) => {
      if (typeof p === 'string' && !isCidrOrIp(p))
        c.error(
          `${base}.trusted_proxies[${i}]`,
          `expected an IP address or CIDR range like "10.0.0.0/8", found ${describeValue(p)}`,
        );
    });
  if (
    cfg.forwarded_by_client_ip === true &&
    !(Array.isArray(cfg.trusted_proxies) && cfg.trusted_proxies.length > 0)
  )
    c.warn(
      `${base}.trusted_proxies`,
      'forwarded_by_client_ip needs trusted_proxies: without them no relay is trusted and the connection address is used',
    );
  if (isObject(cfg.error_body))
    for (const code of Object.keys(cfg.error_body))
      if (code !== '404' && code !== '405')
        c.warn(childPath(`${base}.error_body`, code), 'only the "404" and "405" bodies are used (ignored)');
}

function checkProxyNamespace(cfg: Record<string, unknown>, base: string, scope: Scope, c: Collector): void {
  if (cfg.flatmap_filter !== undefined) {
    const at = `${base}.flatmap_filter`;
    for (const e of validateFlatmap(cfg.flatmap_filter, at)) c.error(e.path, e.message);
    for (const w of lintFlatmap(cfg.flatmap_filter, at)) c.warn(w.path, w.message);
  }
  if (scope === 'backend') {
    for (const key of ['sequential', 'static'])
      if (cfg[key] !== undefined)
        c.warn(`${base}.${key}`, `"${key}" belongs in the endpoint's extra_config (ignored here)`);
  } else if (scope === 'endpoint' && cfg.shadow !== undefined) {
    c.warn(`${base}.shadow`, '"shadow" belongs in a backend\'s extra_config (ignored here)');
  }
}

type Scope = 'service' | 'endpoint' | 'backend';

const CORE_SCOPES: Record<string, Scope[]> = {
  router: ['service'],
  proxy: ['endpoint', 'backend'],
  'backend/http': ['backend'],
  'backend/http/client': ['backend'],
};

function checkExtraConfig(
  extra: unknown,
  base: string,
  scope: Scope,
  service: ServiceConfig,
  c: Collector,
): void {
  if (!isObject(extra)) return;
  for (const ns of Object.keys(extra)) {
    const value = extra[ns];
    const path = childPath(`${base}.extra_config`, ns);
    if (ns.startsWith('@')) continue; // "@comment" keys
    const core = coreNamespaceValidators.get(ns);
    if (core) {
      if (!CORE_SCOPES[ns].includes(scope)) {
        c.warn(path, `"${ns}" does not apply at the ${scope === 'service' ? 'root' : scope} level (ignored)`);
        continue;
      }
      const ok = runSchema(core, coreNamespaceSchemas[ns], value, path, c.errors);
      if (ok && ns === 'router') checkRouter(value as Record<string, unknown>, path, c);
      if (ok && ns === 'proxy') checkProxyNamespace(value as Record<string, unknown>, path, scope, c);
      continue;
    }
    const mod = moduleFor(ns);
    if (!mod) {
      const missing = unimplementedNamespace(ns);
      if (missing !== undefined)
        c.warn(path, `"${ns}" is a KrakenD CE namespace gw does not implement (ignored): ${missing}`);
      else if (ENTERPRISE_NAMESPACES.has(ns))
        c.warn(path, `"${ns}" is a KrakenD Enterprise namespace gw does not implement (ignored)`);
      else if (!isKnownNamespace(ns)) c.warn(path, `unknown extra_config namespace "${ns}" (ignored)`);
      continue;
    }
    const v = moduleValidator(mod);
    let ok = true;
    if (v instanceof Error)
      c.warn(path, `the schema of "${ns}" could not be compiled (${v.message}); only its own checks ran`);
    else if (v) ok = runSchema(v, mod.schema as object, value, path, c.errors);
    if (ok && mod.validate) {
      try {
        for (const issue of mod.validate(value, path, service))
          if (issue.severity === 'warning') c.warn(issue.path, issue.message);
          else c.errors.push(issue);
      } catch (err) {
        c.error(path, `could not validate "${ns}": ${err instanceof Error ? err.message : String(err)}`);
      }
    }
  }
}

const V2_KEYS: Record<string, string> = {
  headers_to_pass: 'input_headers',
  querystring_params: 'input_query_strings',
  whitelist: 'allow',
  blacklist: 'deny',
};

function warnV2Keys(obj: Record<string, unknown>, base: string, c: Collector): void {
  for (const [old, now] of Object.entries(V2_KEYS))
    if (obj[old] !== undefined)
      c.warn(childPath(base, old), `"${old}" is a version 2 setting, ignored in version 3: use "${now}"`);
}

interface RouteSeen {
  index: number;
  pattern: string;
}

function checkEndpoint(
  ep: EndpointConfig,
  i: number,
  service: ServiceConfig,
  routes: Map<string, RouteSeen>,
  c: Collector,
  lint: boolean,
): void {
  const base = `$.endpoints[${i}]`;
  const pattern = ep.endpoint;
  const method = (typeof ep.method === 'string' ? ep.method : 'GET').toUpperCase();
  const route = parseRoute(pattern);
  for (const p of route.problems) c.error(`${base}.endpoint`, `${p} in "${pattern}"`);
  if (/[?#]/.test(pattern))
    c.error(
      `${base}.endpoint`,
      `"${pattern}" contains "?" or "#": the endpoint is a path only (query strings go in input_query_strings)`,
    );
  const wildcardProblem = wildcardRefusal(pattern);
  if (wildcardProblem !== undefined) c.error(`${base}.endpoint`, `"${pattern}": ${wildcardProblem}`);
  if (route.mixed.length > 0 && service.disable_rest !== true)
    c.error(
      `${base}.endpoint`,
      `segment "${route.mixed[0]}" mixes text and a parameter: such non-RESTful patterns need "disable_rest": true at the root`,
    );

  // An endpoint the router does not serve (applyKrakendDefaults warns) takes no route.
  const served = servedMethod(ep) !== undefined;
  const key = `${method} ${route.shape}`;
  const first = served ? routes.get(key) : undefined;
  if (first) {
    if (first.pattern === pattern)
      c.error(
        base,
        `duplicate endpoint ${method} ${pattern}: already declared at $.endpoints[${first.index}]`,
      );
    else
      c.error(
        `${base}.endpoint`,
        `route ${method} ${pattern} conflicts with ${method} ${first.pattern} at $.endpoints[${first.index}]: the same path with other parameter names, no request can tell them apart`,
      );
  } else if (served) routes.set(key, { index: i, pattern });

  checkDurations(ep, base, ENDPOINT_DURATIONS, c);
  warnV2Keys(ep, base, c);
  checkStringList(ep.input_headers, `${base}.input_headers`, c, 'header name');
  checkStringList(ep.input_query_strings, `${base}.input_query_strings`, c, 'query string name');

  const backends = Array.isArray(ep.backend) ? ep.backend : [];
  const outputEncoding = ep.output_encoding ?? service.output_encoding ?? 'json';
  if (ep.backend === undefined || (Array.isArray(ep.backend) && ep.backend.length === 0))
    c.error(
      `${base}.backend`,
      'an endpoint needs at least one backend ("backend": [{"host": [...], "url_pattern": "/path"}])',
    );
  if (outputEncoding === 'no-op' && backends.length > 1)
    c.error(
      `${base}.backend`,
      `a no-op endpoint proxies to exactly one backend, found ${backends.length} (use one endpoint per backend, or another output_encoding to merge)`,
    );

  const proxyCfg =
    isObject(ep.extra_config) && isObject(ep.extra_config.proxy) ? ep.extra_config.proxy : undefined;
  const sequential = proxyCfg?.sequential === true;
  const rootHosts = Array.isArray(service.host) ? service.host : [];

  checkExtraConfig(ep.extra_config, base, 'endpoint', service, c);
  if (proxyCfg?.flatmap_filter !== undefined && backends.length < 2)
    c.warn(
      `${base}.extra_config.proxy.flatmap_filter`,
      'an endpoint-level flatmap_filter only loads with more than one backend (ignored): move it to the backend',
    );

  backends.forEach((b, j) => {
    if (!isObject(b)) return;
    checkBackend(b as BackendConfig, j, `${base}.backend[${j}]`, {
      pattern,
      params: new Set(route.params),
      sequential,
      rootHosts,
      noopEndpoint: outputEncoding === 'no-op',
      lint,
      service,
      c,
    });
  });

  if (lint) {
    if (Array.isArray(ep.input_headers) && ep.input_headers.includes('*'))
      c.warn(
        `${base}.input_headers`,
        '"*" forwards every client header (Authorization, Cookie, ...) to the backends: list only the headers they need',
      );
    if (Array.isArray(ep.input_query_strings) && ep.input_query_strings.includes('*'))
      c.warn(
        `${base}.input_query_strings`,
        '"*" forwards every query string to the backends: list only the ones they need',
      );
    const t = typeof ep.timeout === 'string' ? parseDuration(ep.timeout) : undefined;
    if (t !== undefined && t > 60_000)
      c.warn(`${base}.timeout`, 'a timeout above 1 minute holds connections and workers: keep it below 1m');
    if (ep.concurrent_calls !== undefined && ep.concurrent_calls > 1 && !['GET', 'HEAD'].includes(method))
      c.warn(`${base}.concurrent_calls`, `concurrent calls repeat the request; ${method} is not idempotent`);
  }
}

interface BackendContext {
  pattern: string;
  params: Set<string>;
  sequential: boolean;
  rootHosts: unknown[];
  noopEndpoint: boolean;
  lint: boolean;
  service: ServiceConfig;
  c: Collector;
}

function checkBackend(b: BackendConfig, j: number, base: string, ctx: BackendContext): void {
  const { c } = ctx;
  checkDurations(b, base, BACKEND_DURATIONS, c);
  warnV2Keys(b, base, c);

  if (typeof b.url_pattern === 'string') {
    for (const m of b.url_pattern.matchAll(BRACED)) {
      const name = m[1];
      const where = `${base}.url_pattern`;
      const resp = RESP_VAR.exec(name);
      if (resp) {
        const idx = Number(resp[1]);
        if (!ctx.sequential)
          c.error(
            where,
            `"{${name}}" reads a previous backend's response: it needs "proxy": {"sequential": true} in the endpoint's extra_config`,
          );
        else if (idx >= j)
          c.error(
            where,
            `"{${name}}" reads the response of backend ${idx}, which does not run before backend ${j}`,
          );
        continue;
      }
      if (SPECIAL_PREFIXES.some((p) => name.startsWith(p) && name.length > p.length)) continue;
      if (!ctx.params.has(name)) {
        const known =
          ctx.params.size > 0
            ? `its parameters are ${[...ctx.params].map((p) => `{${p}}`).join(', ')}`
            : 'it has no parameters';
        c.error(where, `"{${name}}" is not a parameter of the endpoint "${ctx.pattern}" (${known})`);
      }
    }
  }

  const extra = isObject(b.extra_config) ? b.extra_config : {};
  const hostless = HOSTLESS_NAMESPACES.some((ns) => extra[ns] !== undefined);
  for (const issue of transportHostIssues(b, base)) c.errors.push(issue);
  const hosts = Array.isArray(b.host) ? b.host : undefined;
  const noHostHere = b.host === undefined || (hosts !== undefined && hosts.length === 0);
  // Lura's initBackendDefaults takes the root's hosts, even none: `krakend run` starts and the
  // backend fails each call. gw does the same, and says so.
  if (!hostless && noHostHere && ctx.rootHosts.length === 0)
    c.warn(
      `${base}.host`,
      'no host: every call to this backend fails (500); set "host": ["http://api:8080"] in the backend, or a default "host" at the root',
    );
  if (hosts) checkHosts(hosts, `${base}.host`, c, b.disable_host_sanitize === true);

  checkExtraConfig(b.extra_config, base, 'backend', ctx.service, c);
  for (const w of lintBackendManipulation(b, base)) c.warn(w.path, w.message);

  if (ctx.lint) {
    if (Array.isArray(b.input_headers) && b.input_headers.includes('*'))
      c.warn(
        `${base}.input_headers`,
        '"*" forwards every client header to this backend: list only the headers it needs',
      );
    if (Array.isArray(b.input_query_strings) && b.input_query_strings.includes('*'))
      c.warn(
        `${base}.input_query_strings`,
        '"*" forwards every query string to this backend: list only the ones it needs',
      );
    if (ctx.noopEndpoint && b.encoding !== undefined && b.encoding !== 'no-op')
      c.warn(
        `${base}.encoding`,
        `the endpoint is no-op, so the backend is not decoded: "encoding": "${b.encoding}" is ignored`,
      );
    if (b.allow !== undefined && b.deny !== undefined)
      c.warn(`${base}.deny`, '"allow" and "deny" together: only "allow" is applied');
  }
}

/**
 * Each async agent as lura reads it: its driver (one gw has), its durations and numbers, and its
 * backends checked as an endpoint's (an agent's request has no parameters).
 */
function checkAsyncAgents(agents: unknown[], service: ServiceConfig, c: Collector, lint: boolean): void {
  const names = new Map<string, number>();
  agents.forEach((a, i) => {
    const base = `$.async_agent[${i}]`;
    if (!isObject(a)) return; // the schema's error
    const name = typeof a.name === 'string' && a.name !== '' ? a.name : undefined;
    if (name !== undefined) {
      const first = names.get(name);
      if (first !== undefined)
        c.error(
          `${base}.name`,
          `agent "${name}" is already declared at $.async_agent[${first}]: names must be unique`,
        );
      else names.set(name, i);
    }
    const extra = isObject(a.extra_config) ? a.extra_config : {};
    const drivers = Object.keys(extra).filter((k) => k.startsWith('async/'));
    if (drivers.length === 0)
      c.error(
        `${base}.extra_config`,
        `no driver: an agent needs one in its extra_config (gw supports ${AGENT_DRIVERS.join(', ')})`,
      );
    for (const d of drivers)
      if (!AGENT_DRIVERS.includes(d))
        c.error(
          childPath(`${base}.extra_config`, d),
          `the "${d}" driver is not supported by gw (supported: ${AGENT_DRIVERS.join(', ')})`,
        );
    const conn = isObject(a.connection) ? a.connection : {};
    const consumer = isObject(a.consumer) ? a.consumer : {};
    checkDurations(conn, `${base}.connection`, ['health_interval'], c);
    checkDurations(consumer, `${base}.consumer`, ['timeout'], c);
    const number = (v: unknown, path: string, what: string, integer: boolean) => {
      if (v !== undefined && (typeof v !== 'number' || (integer && !Number.isInteger(v)) || v < 0))
        c.error(path, `expected ${what}, found ${describeValue(v)}`);
    };
    number(conn.max_retries, `${base}.connection.max_retries`, 'a whole number (0: retry forever)', true);
    number(consumer.workers, `${base}.consumer.workers`, 'a whole number of workers (at least 1)', true);
    number(consumer.max_rate, `${base}.consumer.max_rate`, 'messages per second (0: no limit)', false);
    if (consumer.topic !== undefined && typeof consumer.topic !== 'string')
      c.error(
        `${base}.consumer.topic`,
        `expected a routing key pattern like "orders.*", found ${describeValue(consumer.topic)}`,
      );
    if (conn.backoff_strategy !== undefined && typeof conn.backoff_strategy !== 'string')
      c.error(
        `${base}.connection.backoff_strategy`,
        'expected a strategy name: linear, linear-jitter, exponential, exponential-jitter',
      );
    const backends = Array.isArray(a.backend) ? a.backend : [];
    if (backends.length === 0)
      c.error(`${base}.backend`, 'an agent needs at least one backend to send each message to');
    const proxyCfg = isObject(extra.proxy) ? extra.proxy : undefined;
    checkExtraConfig(a.extra_config, base, 'endpoint', service, c);
    backends.forEach((b, j) => {
      if (!isObject(b)) return;
      checkBackend(b as BackendConfig, j, `${base}.backend[${j}]`, {
        pattern: name ?? `AsyncAgent-${String(i).padStart(2, '0')}`,
        params: new Set(),
        sequential: proxyCfg?.sequential === true,
        rootHosts: Array.isArray(service.host) ? service.host : [],
        noopEndpoint: false,
        lint,
        service,
        c,
      });
    });
  });
}

/** Paths the gateway serves itself: an endpoint there shadows them. */
function builtinPaths(service: ServiceConfig): Array<{ method: string; path: string; what: string }> {
  const router =
    isObject(service.extra_config) && isObject(service.extra_config.router)
      ? service.extra_config.router
      : {};
  const out: Array<{ method: string; path: string; what: string }> = [];
  if (router.disable_health !== true)
    out.push({
      method: 'GET',
      path: typeof router.health_path === 'string' ? router.health_path : '/__health',
      what: 'health',
    });
  return out;
}

/** Validates a loaded configuration: schema errors first, then semantic checks and namespaces. */
export function checkConfig(config: unknown, opts: CheckOptions = {}): CheckResult {
  const lint = opts.lint === true;
  const c = new Collector();
  if (isObject(config)) for (const w of applyKrakendDefaults(config as ServiceConfig)) c.warnings.push(w);
  if (!runSchema(validateRoot, rootSchema, config, '$', c.errors) && !isObject(config))
    return { errors: c.errors, warnings: c.warnings };
  const service = config as ServiceConfig;

  checkDurations(service, '$', ROOT_DURATIONS, c);
  if (Array.isArray(service.host)) checkHosts(service.host, '$.host', c, false);
  if (service.tls !== undefined) for (const issue of validateTls(service.tls, '$.tls')) c.errors.push(issue);

  const routes = new Map<string, RouteSeen>();
  const endpoints = Array.isArray(service.endpoints) ? service.endpoints : [];
  endpoints.forEach((ep, i) => {
    if (!isObject(ep) || typeof ep.endpoint !== 'string') return;
    checkEndpoint(ep, i, service, routes, c, lint);
  });
  for (const b of builtinPaths(service)) {
    const taken = routes.get(`${b.method} ${b.path}`);
    if (taken)
      c.warn(
        `$.endpoints[${taken.index}].endpoint`,
        `${b.method} ${b.path} replaces the built-in ${b.what} endpoint`,
      );
  }

  checkExtraConfig(service.extra_config, '$', 'service', service, c);
  // Root settings of KrakenD CE that gw does not implement: named, never dropped silently.
  if (service.plugin !== undefined) c.warn('$.plugin', 'Go plugins cannot load in gw (ignored)');
  if (Array.isArray(service.async_agent)) checkAsyncAgents(service.async_agent, service, c, lint);

  if (lint) {
    const router =
      isObject(service.extra_config) && isObject(service.extra_config.router)
        ? service.extra_config.router
        : undefined;
    if (service.timeout === undefined)
      c.warn(
        '$.timeout',
        'no timeout: every endpoint uses the 2s default; set one that matches your backends',
      );
    else {
      const t = typeof service.timeout === 'string' ? parseDuration(service.timeout) : undefined;
      if (t !== undefined && t > 60_000)
        c.warn('$.timeout', 'a timeout above 1 minute holds connections and workers: keep it below 1m');
    }
    if (service.debug_endpoint === true)
      c.warn(
        '$.debug_endpoint',
        'the /__debug/ endpoint is enabled: it logs requests and must not be reachable in production',
      );
    if (service.echo_endpoint === true)
      c.warn(
        '$.echo_endpoint',
        'the /__echo/ endpoint is enabled: it returns request headers (tokens included) to anyone',
      );
    if (router?.hide_version_header !== true)
      c.warn(
        '$.extra_config.router.hide_version_header',
        'the X-KrakenD header tells the gateway version: set "hide_version_header": true',
      );
    if (endpoints.length === 0)
      c.warn('$.endpoints', 'no endpoints: the gateway serves only its built-in paths');
  }
  return { errors: c.errors, warnings: c.warnings };
}
