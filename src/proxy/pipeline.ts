// One endpoint's pipeline, compiled once, in the order Lura's proxy/factory.go stacks it:
//
//   endpoint layer   telemetry (meters, or promise middlewares) → the endpoint's middlewares
//                    (bot detector, auth, rate limits…: guards where they only admit or refuse)
//   proxy layer      telemetry → the endpoint's proxy middlewares (Lua, CEL, schema, signer)
//                    → static → the core: no-op, a merge of bytes or objects, a sequence (merge.ts)
//   backend layer    per backend: telemetry → its middlewares → the HTTP call (backend-stage.ts)
//   render           the answer written to the client (render.ts)
//
// Every request of the endpoint takes this one path. What differs from endpoint to endpoint is
// decided here and logged with `-d` (`describe`): which core, which layers have promise
// middlewares, how each backend's request head is written and its answer read, how the answer is
// rendered. An absent layer costs nothing; a layer of guards and meters costs their calls.

import { moduleFor, namespacesInRunOrder } from '../extensions/registry.js';
import type { DataTransform } from '../transform/index.js';
import { compileFlatmap, flatmapFromExtraConfig, manipulationFromBackend } from '../transform/index.js';
import { createWasmEndpointTransform } from '../transform/wasm/index.js';
import type {
  BackendConfig,
  CompileContext,
  EndpointConfig,
  EndpointMiddleware,
  GwRequest,
  Handler,
  Meter,
  ProxyMiddleware,
  ProxyResponse,
  ProxyStage,
  ServiceConfig,
} from '../types.js';
import { AnswerUse, type CompiledBackend, compileBackend } from './backend-stage.js';
import { compileContext, featureMiddlewares, nsConfig, type PipelineRuntime } from './compile.js';
import { getEncoder } from './encodings.js';
import { toBackendError } from './errors.js';
import { chainEndpoint, meterEndpoint, metersOf, outcome } from './layers.js';
import {
  byteMergeCore,
  compileSequentialParams,
  noopCore,
  objectMergeCore,
  type ProxyCore,
  type ProxyDone,
  sequenceCore,
} from './merge.js';
import { RenderedReply, Renderer } from './render.js';
import { compileStaticProxy } from './static.js';
import { parseDurationMs } from './util.js';

const DEFAULT_TIMEOUT_MS = 2000;

export interface CompiledEndpoint {
  method: string;
  path: string;
  handler: Handler;
  /**
   * The request headers the pipeline reads (lower-case names), null when any may be read: a front
   * that must copy headers one by one copies only those.
   */
  reads: readonly string[] | null;
  /** The compiled path and why, one line for the `-d` log. */
  describe: string;
  /**
   * The proxy layer alone, before render: what an async agent runs for each message (lura's agents
   * are built by the proxy factory, without the router layer).
   */
  proxy?: ProxyLayer;
}

/**
 * Whether the endpoint can keep backend bodies as bytes and hand them to the WASM transform:
 * JSON in and out, a plain parallel merge, and no feature that reads or writes the data.
 */
function bytePathEligible(
  endpoint: EndpointConfig,
  backends: BackendConfig[],
  outputEncoding: string,
  sequential: boolean,
  proxyCfg: Record<string, unknown> | undefined,
): boolean {
  if (outputEncoding !== 'json' || sequential || proxyCfg?.static !== undefined) return false;
  if (backends.length === 0) return false;
  for (const ns of Object.keys(endpoint.extra_config ?? {})) {
    if (moduleFor(ns)?.proxy) return false;
  }
  for (const b of backends) {
    if (b.encoding !== undefined && b.encoding !== 'json') return false;
    const http = nsConfig(b.extra_config, 'backend/http');
    if (http?.return_error_details !== undefined) return false;
    for (const ns of Object.keys(b.extra_config ?? {})) {
      const mod = moduleFor(ns);
      if (mod?.backend && !mod.bytesOnly) return false;
    }
  }
  return true;
}

/** Output encodings that read decoded data only through JSON.stringify (or not at all). */
const STRINGIFYING_ENCODINGS = new Set(['json', 'json-collection', 'string']);

/**
 * Whether the endpoint's decoded data may hold number literals kept as written (JSON.rawJSON,
 * an object where a number was): only JSON.stringify and gw's structural manipulation read it —
 * no proxy-layer module (Lua, CEL…) and no backend module that reads the data.
 */
function keepsLiterals(endpoint: EndpointConfig, backends: BackendConfig[], outputEncoding: string): boolean {
  if (!STRINGIFYING_ENCODINGS.has(outputEncoding)) return false;
  for (const ns of Object.keys(endpoint.extra_config ?? {})) if (moduleFor(ns)?.proxy) return false;
  for (const b of backends)
    for (const ns of Object.keys(b.extra_config ?? {})) {
      const mod = moduleFor(ns);
      if (mod?.backend && !mod.bytesOnly) return false;
    }
  return true;
}

export function compileEndpoint(
  endpoint: EndpointConfig,
  index: number,
  service: ServiceConfig,
  rt: PipelineRuntime,
  path = `$.endpoints[${index}]`,
): CompiledEndpoint {
  const method = (endpoint.method ?? 'GET').toUpperCase();
  const label = `${method} ${endpoint.endpoint}`;
  const outputEncoding = endpoint.output_encoding ?? service.output_encoding ?? 'json';
  const noop = outputEncoding === 'no-op';
  const timeoutMs =
    parseDurationMs(endpoint.timeout) ?? parseDurationMs(service.timeout) ?? DEFAULT_TIMEOUT_MS;
  const cacheTtlMs = parseDurationMs(endpoint.cache_ttl) ?? parseDurationMs(service.cache_ttl) ?? 0;
  const proxyCfg = nsConfig(endpoint.extra_config, 'proxy');
  const sequential = proxyCfg?.sequential === true;
  // Shadow backends are split off first, as Lura's shadowFactory does (proxy/shadow.go): the
  // endpoint is built from the others, and the shadows get a proxy of their own whose answers
  // are dropped.
  const allBackends = endpoint.backend ?? [];
  const backendConfigs = allBackends.filter((b) => !isShadowBackend(b));
  const shadowConfigs = allBackends.filter(isShadowBackend);
  const endpointCtx = (ns: string) => compileContext(rt, service, `${path}.extra_config["${ns}"]`, endpoint);
  const serviceCtx = (ns: string) => compileContext(rt, service, `$.extra_config["${ns}"]`, endpoint);

  // An endpoint that is a protocol of its own (WebSockets) ends in its module's handler.
  for (const ns of namespacesInRunOrder(endpoint.extra_config ?? {})) {
    const terminal = moduleFor(ns)?.terminal;
    if (terminal === undefined) continue;
    const layer = compileEndpointLayer(
      endpoint,
      service,
      terminal(endpoint.extra_config![ns], endpointCtx(ns)),
      endpointCtx,
      serviceCtx,
    );
    return {
      method,
      path: endpoint.endpoint,
      handler: layer.handler,
      reads: null,
      describe: `endpoint: ${layer.describe}; ${ns}`,
    };
  }

  // The proxy layer's middlewares, outermost first: telemetry, the endpoint's own, static.
  const proxyInstruments = featureMiddlewares<ProxyMiddleware>(
    service.extra_config,
    (m) => m.instrumentProxy,
    serviceCtx,
  );
  const proxyFeatures = featureMiddlewares<ProxyMiddleware>(
    endpoint.extra_config,
    (m) => m.proxy,
    endpointCtx,
  );
  const staticMw = compileStaticProxy(proxyCfg?.static);
  const proxyMeters = metersOf(proxyInstruments);
  const proxyWrappers: ProxyMiddleware[] = [
    ...(proxyMeters === undefined ? proxyInstruments : []),
    ...proxyFeatures,
    ...(staticMw !== undefined ? [staticMw] : []),
  ];

  // What the core makes of the backends' answers, and so how each backend reads them.
  // As KrakenD: the endpoint-level flatmap only loads when there is a merge (several backends).
  const flatmapOps = backendConfigs.length > 1 ? flatmapFromExtraConfig(endpoint.extra_config) : undefined;
  const endpointFlatmap = flatmapOps && flatmapOps.length > 0 ? compileFlatmap(flatmapOps) : undefined;
  const wasm =
    !noop &&
    rt.transform === 'wasm' &&
    bytePathEligible(endpoint, backendConfigs, outputEncoding, sequential, proxyCfg)
      ? createWasmEndpointTransform({
          backends: backendConfigs.map((b) => ({
            ...manipulationFromBackend(b),
            isCollection: b.is_collection === true,
          })),
          endpointFlatmap: flatmapOps,
        })
      : undefined;
  const use = noop
    ? proxyWrappers.length === 0
      ? AnswerUse.Passed
      : AnswerUse.PassedMap
    : wasm !== undefined
      ? AnswerUse.Bytes
      : AnswerUse.Data;
  // As Lura's decoders (UseNumber), numbers stay as the backend wrote them, where gw can.
  const keepNumberLiterals =
    use === AnswerUse.Data && keepsLiterals(endpoint, backendConfigs, outputEncoding);
  const backends: CompiledBackend[] = (noop ? backendConfigs.slice(0, 1) : backendConfigs).map((b, i) =>
    compileBackend(endpoint, b, i, path, service, rt, timeoutMs, use, keepNumberLiterals),
  );
  const mergeCtx = { logger: rt.logger, endpointLabel: label };
  const propagated = Array.isArray(proxyCfg?.sequential_propagated_params)
    ? proxyCfg.sequential_propagated_params.filter((p): p is string => typeof p === 'string')
    : [];
  const sequenceOf = (
    list: CompiledBackend[],
    configs: typeof backendConfigs,
    flatmap: DataTransform | undefined,
  ) =>
    sequenceCore(
      list,
      compileSequentialParams(
        configs.map((b) => b.url_pattern ?? ''),
        propagated,
      ),
      flatmap,
      mergeCtx,
    );
  const mainCore: ProxyCore | undefined =
    backends.length === 0
      ? undefined
      : noop
        ? noopCore(backends[0], mergeCtx)
        : wasm !== undefined
          ? byteMergeCore(backends, wasm, mergeCtx)
          : sequential
            ? sequenceOf(backends, backendConfigs, endpointFlatmap)
            : objectMergeCore(backends, endpointFlatmap, mergeCtx);

  let core = mainCore;
  /** Every backend called, shadows included (what they read of the request). */
  const called = [...backends];
  if (shadowConfigs.length > 0) {
    // The shadows' deadline: the longest of their shadow_timeout (else the endpoint's timeout).
    const shadowTimeoutMs = Math.max(
      ...shadowConfigs.map(
        (b) => parseDurationMs(nsConfig(b.extra_config, 'proxy')?.shadow_timeout) ?? timeoutMs,
      ),
    );
    // A shadow's answer is read but never passed on, so a no-op endpoint's shadow is read whole.
    const shadowBackends = shadowConfigs.map((b, i) =>
      compileBackend(
        endpoint,
        noop ? { ...b, encoding: 'no-op' } : b,
        i,
        path,
        service,
        rt,
        shadowTimeoutMs,
        AnswerUse.Data,
      ),
    );
    const shadowCore =
      sequential && !noop
        ? sequenceOf(shadowBackends, shadowConfigs, undefined)
        : objectMergeCore(shadowBackends, undefined, mergeCtx);
    core = mainCore === undefined ? undefined : shadowedCore(mainCore, shadowCore);
    called.push(...shadowBackends);
  }

  const proxy = compileProxyLayer(core, proxyWrappers, proxyMeters);
  // Only shadow backends: Lura fails to build the endpoint's proxy (ErrNoBackends) and the router
  // answers every request with a bare 500 (router/gin/router.go, registerKrakendEndpoints).
  const buildFailed = backendConfigs.length === 0 && shadowConfigs.length > 0;
  const renderer = new Renderer({
    versionHeader: rt.versionHeader,
    cacheControl: cacheTtlMs > 0 ? `public, max-age=${Math.floor(cacheTtlMs / 1000)}` : undefined,
    returnErrorMsg: rt.returnErrorMsg,
    encoder: getEncoder(outputEncoding) ?? getEncoder('json')!,
    signerAnswer: nsConfig(endpoint.extra_config, 'auth/signer') !== undefined,
  });
  const rendered: Handler = buildFailed
    ? (_req, reply) => reply.answer({ status: 500, headers: {}, body: '' })
    : (req, reply) => proxy.run(req, new RenderedReply(renderer, req, reply));

  const {
    handler,
    features: endpointFeatures,
    instruments: endpointInstruments,
    meters: endpointMeters,
  } = compileEndpointLayer(endpoint, service, rendered, endpointCtx, serviceCtx);

  const reads = headerReads(
    endpointFeatures,
    endpointMeters === undefined && endpointInstruments.length > 0,
    proxyWrappers.length > 0,
    called,
    outputEncoding,
  );

  const layer = (wrappers: number, meters: Meter[] | undefined, names: string) =>
    wrappers > 0 ? names : meters !== undefined && meters.length > 0 ? 'metered' : '-';
  const describe = [
    `endpoint: ${describeEndpointLayer(endpointFeatures, endpointInstruments, endpointMeters)}`,
    `proxy: ${layer(proxyWrappers.length, proxyMeters, `${proxyWrappers.length} promise middleware${proxyWrappers.length > 1 ? 's' : ''}`)}`,
    `core: ${core?.describe ?? 'none (no backend)'}`,
    ...backends.map((b) => `backend[${b.index}]: ${b.describe}`),
    `render: ${
      noop
        ? backends[0]?.passesHead
          ? "the backend's header lines as bytes"
          : 'a header map'
        : wasm !== undefined
          ? 'JSON bytes with header lines as bytes'
          : `${outputEncoding} through a header map`
    }`,
  ].join('; ');
  return { method, path: endpoint.endpoint, handler, reads, describe, proxy };
}

/**
 * A backend marked `"proxy": {"shadow": true}` (luraproject/lura proxy/shadow.go, isShadowBackend),
 * or `"backend/http": {"shadow": true}`, the spelling gw also reads (Lura reads only the first).
 */
function isShadowBackend(b: BackendConfig): boolean {
  return (
    nsConfig(b.extra_config, 'proxy')?.shadow === true ||
    nsConfig(b.extra_config, 'backend/http')?.shadow === true
  );
}

/** What a shadow's answer is told to: nothing hears it. */
const DROPPED: ProxyDone = { done: () => {} };

/**
 * The endpoint's core with its shadows: they get the same request, started first, and their
 * answer — data, failure or lateness — never reaches the client (proxy/shadow.go, NewShadowProxyWithTimeout).
 */
function shadowedCore(main: ProxyCore, shadow: ProxyCore): ProxyCore {
  return {
    describe: `${main.describe}, with ${shadow.describe} as shadow`,
    run(req, done) {
      shadow.run(req, DROPPED);
      main.run(req, done);
    },
  };
}

/** The endpoint layer around `inner`, outermost first: telemetry, then the endpoint's own middlewares. */
function compileEndpointLayer(
  endpoint: EndpointConfig,
  service: ServiceConfig,
  inner: Handler,
  endpointCtx: (ns: string) => CompileContext,
  serviceCtx: (ns: string) => CompileContext,
) {
  const features = featureMiddlewares<EndpointMiddleware>(
    endpoint.extra_config,
    (m) => m.endpoint,
    endpointCtx,
  );
  const instruments = featureMiddlewares<EndpointMiddleware>(
    service.extra_config,
    (m) => m.instrumentEndpoint,
    serviceCtx,
  );
  const meters = metersOf(instruments);
  let handler = chainEndpoint(features, inner);
  handler = meters !== undefined ? meterEndpoint(meters, handler) : chainEndpoint(instruments, handler);
  return {
    handler,
    features,
    instruments,
    meters,
    describe: describeEndpointLayer(features, instruments, meters),
  };
}

/** Output encodings whose encoder reads no request header. */
const HEADERLESS_ENCODINGS = new Set(['json', 'json-collection', 'string', 'yaml', 'xml', 'no-op']);

/** The request headers an endpoint's pipeline reads; null when a part of it may read any. */
function headerReads(
  features: EndpointMiddleware[],
  tracedEndpoint: boolean,
  proxyWrapped: boolean,
  backends: CompiledBackend[],
  outputEncoding: string,
): readonly string[] | null {
  if (tracedEndpoint || proxyWrapped) return null;
  const names = new Set<string>();
  for (const mw of features) {
    const read = mw.guard?.headers;
    if (read === undefined) return null;
    for (const name of read) names.add(name);
  }
  for (const b of backends) {
    if (b.reads === null) return null;
    for (const name of b.reads) names.add(name);
  }
  if (outputEncoding === 'negotiate') names.add('accept');
  else if (!HEADERLESS_ENCODINGS.has(outputEncoding)) return null;
  return [...names];
}

function describeEndpointLayer(
  features: EndpointMiddleware[],
  instruments: EndpointMiddleware[],
  meters: Meter[] | undefined,
): string {
  const parts: string[] = [];
  if (meters !== undefined && meters.length > 0) parts.push('metered');
  else if (meters === undefined) parts.push(`${instruments.length} telemetry promise middleware(s)`);
  const guards = features.filter((mw) => mw.guard !== undefined && mw.guard.ready === undefined).length;
  const deciding = features.filter((mw) => mw.guard?.ready !== undefined).length;
  const wrapping = features.length - guards - deciding;
  if (guards > 0) parts.push(`${guards} guard${guards > 1 ? 's' : ''}`);
  if (deciding > 0) parts.push(`${deciding} guard${deciding > 1 ? 's' : ''} or promise middleware`);
  if (wrapping > 0) parts.push(`${wrapping} promise middleware${wrapping > 1 ? 's' : ''}`);
  return parts.length > 0 ? parts.join(', ') : '-';
}

/** The proxy layer as a whole: the core, its meters, or the promise middlewares around it. */
export interface ProxyLayer {
  run(req: GwRequest, done: ProxyDone): void;
}

function compileProxyLayer(
  core: ProxyCore | undefined,
  wrappers: ProxyMiddleware[],
  meters: Meter[] | undefined,
): ProxyLayer {
  // An endpoint without backends answers an empty object, complete.
  const inner: ProxyLayer = core ?? { run: (_req, done) => done.done({ data: {}, isComplete: true }) };
  if (wrappers.length === 0) {
    if (meters === undefined || meters.length === 0) return inner;
    return { run: (req, done) => inner.run(req, new MeteredProxyDone(done, meters, performance.now())) };
  }
  // Promise middlewares: the core as a promise stage, wrapped outermost first.
  let stage: ProxyStage = (req) => new Promise<ProxyResponse>((resolve) => inner.run(req, { done: resolve }));
  for (let i = wrappers.length - 1; i >= 0; i--) stage = wrappers[i](stage);
  const wrapped = stage;
  return {
    run(req, done) {
      let pending: Promise<ProxyResponse>;
      try {
        pending = wrapped(req);
      } catch (err) {
        done.done({ data: null, isComplete: false, error: toBackendError(err) });
        return;
      }
      pending.then(
        (pr) => done.done(pr),
        (err) => done.done({ data: null, isComplete: false, error: toBackendError(err) }),
      );
    },
  };
}

/** The proxy layer's meters, told of its answer (as the telemetry middleware would read it). */
class MeteredProxyDone implements ProxyDone {
  constructor(
    private readonly inner: ProxyDone,
    private readonly meters: Meter[],
    private readonly started: number,
  ) {}

  done(pr: ProxyResponse): void {
    const o = outcome;
    o.reach = 'called';
    o.proxyComplete = pr.isComplete;
    // An incomplete merge means a backend failed (a no-op answer is never complete, and fine).
    o.proxyError = pr.error !== undefined || (!pr.isComplete && pr.raw === undefined);
    o.elapsedUs = (performance.now() - this.started) * 1000;
    for (const meter of this.meters) meter.record(o);
    this.inner.done(pr);
  }
}
