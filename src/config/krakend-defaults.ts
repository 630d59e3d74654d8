// What `krakend run` accepts, and the defaults it fills in, applied to a loaded configuration
// before gw checks and compiles it. Each rule names the Lura / KrakenD CE source that decides it.
// A value gw cannot serve as written is rewritten to what KrakenD serves instead, with a warning
// at its JSON path; `gw check --lint` reports the same values as errors (src/config/lint.ts).

import { NAMESPACE_ALIASES } from '../extensions/registry.js';
import type { ConfigIssue, EndpointConfig, ServiceConfig } from '../types.js';
import { BACKEND_ENCODINGS, OUTPUT_ENCODINGS } from './schema.js';

const isObject = (v: unknown): v is Record<string, unknown> =>
  v !== null && typeof v === 'object' && !Array.isArray(v);

/**
 * The methods Lura's gin router registers (router/gin/router.go, registerKrakendEndpoint): any
 * other endpoint method is logged as "Unsupported method" and the endpoint is not served.
 */
export const ROUTER_METHODS: ReadonlySet<string> = new Set(['GET', 'POST', 'PUT', 'PATCH', 'DELETE']);

/** The method an endpoint is served with (upper-cased, as the router does), or undefined if none. */
export function servedMethod(ep: EndpointConfig): string | undefined {
  const method = typeof ep.method === 'string' ? ep.method.toUpperCase() : 'GET';
  return ROUTER_METHODS.has(method) ? method : undefined;
}

/**
 * The renders Lura's gin router registers (router/gin/render.go: json, string, no-op,
 * json-collection, xml, yaml, negotiate). getRender falls back to the single backend's encoding
 * when that names a render, else to json.
 */
const RENDERS = new Set(['json', 'string', 'no-op', 'json-collection', 'xml', 'yaml', 'negotiate']);

/** One extra_config object with KrakenD CE's long namespace names turned into the short ones. */
function normalizeExtraConfig(extra: unknown): void {
  if (!isObject(extra)) return;
  for (const key of Object.keys(extra)) {
    const short = NAMESPACE_ALIASES[key];
    if (short === undefined || !Object.hasOwn(NAMESPACE_ALIASES, key)) continue;
    // Lura's ExtraConfig.Normalize: where both names are written, the short one wins.
    if (extra[short] === undefined) extra[short] = extra[key];
    delete extra[key];
  }
}

/**
 * Renames the long namespace names (`github_com/luraproject/lura/router/gin`, …) to the short ones
 * everywhere a configuration has an extra_config, as Lura's ServiceConfig.Normalize does with the
 * alias table of krakend-ce's cmd/krakend-ce/main.go. Mutates `config`.
 */
export function normalizeNamespaces(config: ServiceConfig): void {
  normalizeExtraConfig(config.extra_config);
  for (const ep of Array.isArray(config.endpoints) ? config.endpoints : []) {
    if (!isObject(ep)) continue;
    normalizeExtraConfig(ep.extra_config);
    for (const b of Array.isArray(ep.backend) ? ep.backend : [])
      if (isObject(b)) normalizeExtraConfig(b.extra_config);
  }
  const agents = config.async_agent;
  for (const agent of Array.isArray(agents) ? agents : []) {
    if (!isObject(agent)) continue;
    normalizeExtraConfig(agent.extra_config);
    for (const b of Array.isArray(agent.backend) ? agent.backend : [])
      if (isObject(b)) normalizeExtraConfig(b.extra_config);
  }
}

/**
 * Applies Lura's defaults where gw would otherwise refuse what `krakend run` serves; returns
 * the warnings. Mutates `config`; runs before the schema check, so only values of the right type
 * are rewritten (a wrong type stays the schema's error).
 */
export function applyKrakendDefaults(config: ServiceConfig): ConfigIssue[] {
  const warnings: ConfigIssue[] = [];
  if (!isObject(config)) return warnings;
  const rootEncoding = config.output_encoding;
  const rootUnknown = typeof rootEncoding === 'string' && !OUTPUT_ENCODINGS.includes(rootEncoding);
  if (rootUnknown)
    warnings.push({
      path: '$.output_encoding',
      message: `unknown output encoding "${rootEncoding}": KrakenD serves its endpoints as json (Lura's getRender fallback)`,
    });
  const endpoints = Array.isArray(config.endpoints) ? config.endpoints : [];
  endpoints.forEach((ep, i) => {
    if (!isObject(ep)) return;
    const base = `$.endpoints[${i}]`;
    if (typeof ep.method === 'string' && servedMethod(ep) === undefined)
      warnings.push({
        path: `${base}.method`,
        message: `KrakenD's router serves GET, POST, PUT, PATCH and DELETE endpoints only: ${ep.method.toUpperCase()} ${String(ep.endpoint)} is skipped (Lura router/gin: "Unsupported method")`,
      });
    const backends = Array.isArray(ep.backend) ? ep.backend : [];
    backends.forEach((b, j) => {
      if (!isObject(b)) return;
      const at = `${base}.backend[${j}]`;
      // Lura config.go, initBackendURLMappings: CleanPath("") is "/".
      if (b.url_pattern === undefined) b.url_pattern = '/';
      if (typeof b.sd === 'string' && b.sd !== 'static')
        warnings.push({
          path: `${at}.sd`,
          // Lura sd/register.go, Register.Get: an unknown name is the fixed (static) host list;
          // krakend-ce registers "dns" (sd/dnssrv), which gw does not implement.
          message:
            b.sd === 'dns' || b.sd === 'dns-shared'
              ? `DNS SRV service discovery ("sd": "${b.sd}") is not implemented by gw: the hosts are called as written`
              : `unknown service discovery "${b.sd}": KrakenD calls the hosts as written, as "static" (Lura's sd Register.Get fallback)`,
        });
      if (typeof b.encoding === 'string') {
        // Lura config.go, initBackendDefaults: the decoder is looked up lower-cased, json if unknown.
        const name = b.encoding.toLowerCase();
        if (BACKEND_ENCODINGS.includes(name)) b.encoding = name;
        else {
          warnings.push({
            path: `${at}.encoding`,
            message: `unknown backend encoding "${b.encoding}": KrakenD decodes it as json (Lura's DecoderRegister.Get fallback)`,
          });
          b.encoding = 'json';
        }
      }
    });
    const own = ep.output_encoding;
    const ownUnknown = typeof own === 'string' && !OUTPUT_ENCODINGS.includes(own);
    if (ownUnknown || (own === undefined && rootUnknown)) {
      const single = backends.length === 1 && isObject(backends[0]) ? backends[0].encoding : undefined;
      const fallback = typeof single === 'string' && RENDERS.has(single) ? single : 'json';
      if (ownUnknown)
        warnings.push({
          path: `${base}.output_encoding`,
          message: `unknown output encoding "${own}": KrakenD serves it as ${fallback} (Lura's getRender fallback)`,
        });
      ep.output_encoding = fallback;
    }
    applyStaticDefaults(ep, base, warnings);
  });
  if (rootUnknown) delete config.output_encoding;
  return warnings;
}

const STATIC_STRATEGIES = ['always', 'success', 'complete', 'errored', 'incomplete'];

/** Lura proxy/static.go, getStaticMiddlewareCfg: no strategy or an unknown one is "always"; no data object, no static. */
function applyStaticDefaults(ep: EndpointConfig, base: string, warnings: ConfigIssue[]): void {
  const proxy = isObject(ep.extra_config) ? ep.extra_config.proxy : undefined;
  if (!isObject(proxy) || !isObject(proxy.static)) return;
  const st = proxy.static;
  const at = `${base}.extra_config.proxy.static`;
  if (!isObject(st.data)) {
    warnings.push({
      path: `${at}.data`,
      message: 'a static response needs a "data" object: without one KrakenD adds no static data (ignored)',
    });
    return;
  }
  if (st.strategy === undefined) st.strategy = 'always';
  else if (typeof st.strategy === 'string' && !STATIC_STRATEGIES.includes(st.strategy)) {
    warnings.push({
      path: `${at}.strategy`,
      message: `unknown static strategy "${st.strategy}": KrakenD applies it as "always" (one of ${STATIC_STRATEGIES.join(', ')})`,
    });
    st.strategy = 'always';
  }
}
