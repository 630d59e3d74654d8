// modifier/lua-endpoint, modifier/lua-proxy and modifier/lua-backend: the "Lua Scripting" page.
// Sources are read (and their md5 checked) when the config is compiled; the WASM VM loads in
// the background right after, and every Lua state compiles the sources and pre/post once.
// Per request only the compiled functions run, each under an instruction, time and memory cap.

import { createHash } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Logger } from 'pino';
import { request as undiciRequest } from 'undici';
import {
  BackendError,
  type BackendMiddleware,
  type BackendResponse,
  type CompileContext,
  type ConfigIssue,
  type EndpointMiddleware,
  type FeatureModule,
  type GwResponse,
  type ProxyMiddleware,
  type ProxyResponse,
  type ServiceConfig,
} from '../../types.js';
import {
  BackendRequestView,
  BackendResponseView,
  EndpointCtxView,
  endpointFacts,
  ProxyRequestView,
  ProxyResponseView,
} from './api.js';
import { LUA_SCHEMA } from './settings.js';
import {
  defaultLimits,
  type HttpFetcher,
  type LuaChunk,
  LuaCustomError,
  LuaExec,
  type LuaLimits,
  LuaScriptError,
  LuaState,
  type LuaView,
  loadLua,
  luaLoaded,
} from './vm.js';

export interface LuaConfig {
  sources?: string[];
  md5?: Record<string, string>;
  pre?: string;
  post?: string;
  live?: boolean;
  allow_open_libs?: boolean;
  skip_next?: boolean;
}

const MAX_IDLE_STATES = 8;

function readSource(file: string): string {
  return readFileSync(resolve(file), 'utf8');
}

function md5Hex(text: string): string {
  return createHash('md5').update(text, 'utf8').digest('hex');
}

/** One configured script: its sources, compiled entry points and a pool of Lua states. */
export class LuaScript {
  private sources: LuaChunk[];
  private readonly entries: LuaChunk[];
  private idle: LuaState[] = [];
  private generation = 0;
  private readonly generations = new WeakMap<LuaState, number>();
  private stamps: number[];
  private failure: Error | undefined;
  private loading: Promise<void> | undefined;
  ready = false;

  constructor(
    readonly label: string,
    private readonly cfg: LuaConfig,
    private readonly logger: Logger,
    private readonly limits: LuaLimits = defaultLimits,
  ) {
    const files = cfg.sources ?? [];
    this.sources = files.map((f) => ({ name: f, code: readSource(f) }));
    for (const [file, expected] of Object.entries(cfg.md5 ?? {})) {
      const src = this.sources.find((s) => s.name === file);
      const code = src ? src.code : readSource(file);
      const got = md5Hex(code);
      if (got !== expected.toLowerCase())
        throw new Error(`${label}: md5 of ${file} is ${got}, expected ${expected}`);
    }
    this.stamps = cfg.live ? files.map((f) => statSync(resolve(f)).mtimeMs) : [];
    this.entries = [];
    if (typeof cfg.pre === 'string' && cfg.pre.trim() !== '')
      this.entries.push({ name: '=pre', code: cfg.pre });
    if (typeof cfg.post === 'string' && cfg.post.trim() !== '')
      this.entries.push({ name: '=post', code: cfg.post });
  }

  has(entry: 'pre' | 'post'): boolean {
    return this.entries.some((e) => e.name === `=${entry}`);
  }

  /** Loads the VM and compiles one state; a broken script is reported here, at startup. */
  start(): Promise<void> {
    this.loading ??= loadLua().then(
      () => {
        try {
          this.idle.push(this.createState());
        } catch (err) {
          this.failure = err as Error;
          this.logger.error(`[Lua] ${this.label}: ${(err as Error).message}`);
        }
        this.ready = true;
      },
      (err: Error) => {
        this.failure = new Error(`the Lua VM did not load: ${err.message}`);
        this.logger.error(`[Lua] ${this.label}: ${this.failure.message}`);
        this.ready = true;
      },
    );
    return this.loading;
  }

  private createState(): LuaState {
    const st = new LuaState(this.sources, this.entries, this.cfg.allow_open_libs === true, this.limits);
    this.generations.set(st, this.generation);
    return st;
  }

  /** `live`: sources changed on disk → new states read them (checked on every execution). */
  private checkLive(): void {
    const files = this.cfg.sources ?? [];
    let changed = false;
    for (let i = 0; i < files.length; i++) {
      let m = -1;
      try {
        m = statSync(resolve(files[i])).mtimeMs;
      } catch {
        continue;
      }
      if (m !== this.stamps[i]) {
        this.stamps[i] = m;
        changed = true;
      }
    }
    if (!changed) return;
    try {
      this.sources = files.map((f) => ({ name: f, code: readSource(f) }));
      this.generation++;
      for (const st of this.idle) st.close();
      this.idle = [];
      this.failure = undefined;
    } catch (err) {
      this.logger.error(`[Lua] ${this.label}: cannot reload sources: ${(err as Error).message}`);
    }
  }

  private acquire(): LuaState {
    if (this.cfg.live) this.checkLive();
    if (this.failure) throw new LuaScriptError(this.failure.message, false);
    const st = this.idle.pop();
    if (st) return st;
    if (!luaLoaded()) throw new LuaScriptError('the Lua VM is not loaded', false);
    try {
      return this.createState();
    } catch (err) {
      if (this.cfg.live) this.failure = err as Error;
      throw err;
    }
  }

  private release(st: LuaState, err?: unknown): void {
    // A state stopped mid-way (budget, memory) is dropped: nothing it half-built is reused.
    const stopped = err instanceof LuaScriptError && err.runaway;
    if (stopped || this.generations.get(st) !== this.generation || this.idle.length >= MAX_IDLE_STATES)
      st.close();
    else this.idle.push(st);
  }

  /** Runs `pre` or `post`; synchronous unless the script waits for http_response. */
  run(entry: 'pre' | 'post', exec: LuaExec): void | Promise<void> {
    const st = this.acquire();
    let out: void | Promise<void>;
    try {
      out = st.run(st.refs[`=${entry}`], exec);
    } catch (err) {
      this.release(st, err);
      throw err;
    }
    if (out instanceof Promise) {
      return out.then(
        () => this.release(st),
        (err) => {
          this.release(st, err);
          throw err;
        },
      );
    }
    this.release(st);
  }

  /** Logs a failed execution (custom_error is the script's own answer: not logged). */
  report(entry: string, err: unknown): void {
    if (err instanceof LuaCustomError) return;
    const runaway = err instanceof LuaScriptError && err.runaway;
    const msg = err instanceof Error ? err.message : String(err);
    if (runaway) this.logger.error(`[Lua] ${this.label} ${entry}: ${msg}`);
    else this.logger.warn(`[Lua] ${this.label} ${entry}: ${msg}`);
  }
}

const MAX_HTTP_BODY = 32 * 1024 * 1024;

/** http_response.new(url, method, body, headers). */
const fetchForLua: HttpFetcher = async (url, method, body, headers) => {
  const res = await undiciRequest(url, {
    method: method as 'GET',
    body,
    headers,
    headersTimeout: 10_000,
    bodyTimeout: 10_000,
  });
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of res.body) {
    size += chunk.length;
    if (size > MAX_HTTP_BODY) {
      res.body.destroy();
      throw new Error(`response larger than ${MAX_HTTP_BODY} bytes`);
    }
    chunks.push(chunk as Buffer);
  }
  const out: Record<string, string[]> = {};
  for (const [k, v] of Object.entries(res.headers)) {
    if (v === undefined) continue;
    out[k.toLowerCase()] = Array.isArray(v) ? v : [v];
  }
  return { status: res.statusCode, headers: out, body: Buffer.concat(chunks) };
};

/**
 * Runs `pre` or `post` with the objects the script reaches: `req` through request.load() (or
 * ctx.load() in the router layer), `resp` through response.load(). Synchronous unless the
 * script waits for http_response; a failure is thrown for the layer to answer in its own way.
 */
function runEntry(
  script: LuaScript,
  entry: 'pre' | 'post',
  req: LuaView,
  resp?: LuaView,
  reqLoader: LuaExec['reqLoader'] = 'request',
): void | Promise<void> {
  const exec = new LuaExec();
  exec.req = req;
  exec.resp = resp;
  exec.reqLoader = reqLoader;
  exec.fetch = fetchForLua;
  return script.run(entry, exec);
}

function scriptLabel(ns: string, ctx: CompileContext, cfg: LuaConfig): string {
  const sources = cfg.sources && cfg.sources.length > 0 ? ` (${cfg.sources.join(', ')})` : '';
  return `${ns} at ${ctx.path}${sources}`;
}

function newScript(ns: string, cfg: unknown, ctx: CompileContext): LuaScript | undefined {
  const c = (cfg ?? {}) as LuaConfig;
  const script = new LuaScript(scriptLabel(ns, ctx, c), c, ctx.logger);
  if (!script.has('pre') && !script.has('post')) return undefined;
  void script.start();
  return script;
}

/**
 * An exception from a script, as the proxy layer reports it: custom_error's status, and its
 * message and content type as lura's endpoint writes an error (router/gin/endpoint.go
 * ErrorResponseWriter: only with the router's return_error_msg).
 */
function proxyFailure(script: LuaScript, entry: string, err: unknown): ProxyResponse {
  script.report(entry, err);
  if (err instanceof LuaCustomError) {
    const headers = err.contentType ? { 'content-type': err.contentType } : undefined;
    return {
      data: null,
      isComplete: false,
      error: new BackendError(err.message, err.status, undefined, headers),
    };
  }
  return { data: null, isComplete: false, error: new BackendError(`lua: ${(err as Error).message}`, 500) };
}

function backendFailure(script: LuaScript, entry: string, err: unknown): BackendError {
  script.report(entry, err);
  if (err instanceof LuaCustomError) {
    const headers = err.contentType ? { 'content-type': err.contentType } : undefined;
    return new BackendError(err.message, err.status, Buffer.from(err.message, 'utf8'), headers, err.status);
  }
  return new BackendError(`lua: ${(err as Error).message}`, 500);
}

/** krakend-lua router/gin/lua.go: the status and content type of custom_error, c.AbortWithError's empty body. */
function endpointFailure(script: LuaScript, err: unknown): GwResponse {
  script.report('pre', err);
  if (err instanceof LuaCustomError) {
    if (err.contentType)
      return { status: err.status, headers: { 'content-type': err.contentType }, body: '' };
    return { status: err.status, headers: {}, body: '' };
  }
  return { status: 500, headers: {}, body: '' };
}

function compileEndpointLua(ns: string, cfg: unknown, ctx: CompileContext): EndpointMiddleware | undefined {
  const script = newScript(ns, cfg, ctx);
  if (!script?.has('pre')) return undefined;
  return (next) => async (req) => {
    if (!script.ready) await script.start();
    const view = new EndpointCtxView(req);
    try {
      const pending = runEntry(script, 'pre', view, undefined, 'ctx');
      if (pending) await pending;
    } catch (err) {
      return endpointFailure(script, err);
    }
    return next(view.result());
  };
}

export const luaEndpointModule: FeatureModule = {
  namespace: 'modifier/lua-endpoint',
  schema: LUA_SCHEMA,
  validate: validateLua,
  service: (cfg, ctx) => compileEndpointLua('modifier/lua-endpoint', cfg, ctx),
  endpoint: (cfg, ctx) => compileEndpointLua('modifier/lua-endpoint', cfg, ctx),
};

export const luaProxyModule: FeatureModule = {
  namespace: 'modifier/lua-proxy',
  schema: LUA_SCHEMA,
  validate: validateLua,
  proxy(cfg, ctx): ProxyMiddleware | undefined {
    const script = newScript('modifier/lua-proxy', cfg, ctx);
    if (!script) return undefined;
    const c = cfg as LuaConfig;
    const skipNext = c.skip_next === true;
    const hasPre = script.has('pre');
    const hasPost = script.has('post');
    const facts = endpointFacts(ctx.endpoint?.input_headers, ctx.endpoint?.input_query_strings);
    return (next) => async (req) => {
      if (!script.ready) await script.start();
      let forward = req;
      if (hasPre) {
        const view = new ProxyRequestView(req, facts);
        try {
          const pending = runEntry(script, 'pre', view);
          if (pending) await pending;
        } catch (err) {
          return proxyFailure(script, 'pre', err);
        }
        forward = view.result();
      }
      const res: ProxyResponse = skipNext ? { data: {}, isComplete: false } : await next(forward);
      // As in KrakenD, a failed or incomplete merge is returned without running `post`.
      if (!hasPost || res.error) return res;
      if (res.data === null && res.json !== undefined) {
        res.data = JSON.parse(res.json.toString('utf8')) as Record<string, unknown>;
        res.json = undefined;
      }
      try {
        const pending = runEntry(
          script,
          'post',
          new ProxyRequestView(forward, facts),
          new ProxyResponseView(res),
        );
        if (pending) await pending;
      } catch (err) {
        return proxyFailure(script, 'post', err);
      }
      return res;
    };
  },
};

export const luaBackendModule: FeatureModule = {
  namespace: 'modifier/lua-backend',
  schema: LUA_SCHEMA,
  validate: validateLua,
  backend(cfg, ctx): BackendMiddleware | undefined {
    const script = newScript('modifier/lua-backend', cfg, ctx);
    if (!script) return undefined;
    const c = cfg as LuaConfig;
    const skipNext = c.skip_next === true;
    const hasPre = script.has('pre');
    const hasPost = script.has('post');
    const host = (ctx.backend?.host?.[0] ?? ctx.service.host?.[0] ?? '').replace(/\/+$/, '');
    const noop =
      (ctx.backend?.encoding ?? 'json') === 'no-op' ||
      (ctx.endpoint?.output_encoding ?? ctx.service.output_encoding) === 'no-op';
    return (next) => async (breq) => {
      if (!script.ready) await script.start();
      let forward = breq;
      if (hasPre) {
        const view = new BackendRequestView(breq, host);
        try {
          const pending = runEntry(script, 'pre', view);
          if (pending) await pending;
        } catch (err) {
          throw backendFailure(script, 'pre', err);
        }
        forward = view.result();
      }
      const res: BackendResponse = skipNext
        ? { status: 200, headers: {}, body: Buffer.alloc(0), data: noop ? undefined : {} }
        : await next(forward);
      if (!hasPost) return res;
      try {
        const pending = runEntry(
          script,
          'post',
          new BackendRequestView(forward, host),
          new BackendResponseView(res, noop),
        );
        if (pending) await pending;
      } catch (err) {
        throw backendFailure(script, 'post', err);
      }
      return res;
    };
  },
};

export const luaModules: FeatureModule[] = [luaEndpointModule, luaProxyModule, luaBackendModule];

function validateLua(cfg: unknown, path: string, _service: ServiceConfig): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  if (cfg === null || typeof cfg !== 'object' || Array.isArray(cfg)) {
    return [{ path, message: 'expected an object with sources, pre and/or post' }];
  }
  const c = cfg as Record<string, unknown>;
  const codes = new Map<string, string>();
  if (c.sources !== undefined) {
    if (!Array.isArray(c.sources))
      issues.push({ path: `${path}.sources`, message: 'expected an array of file paths' });
    else
      c.sources.forEach((f, i) => {
        if (typeof f !== 'string') {
          issues.push({ path: `${path}.sources[${i}]`, message: 'expected a file path (string)' });
          return;
        }
        try {
          codes.set(f, readSource(f));
        } catch (err) {
          issues.push({
            path: `${path}.sources[${i}]`,
            message: `cannot read ${f}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
          });
        }
      });
  }
  if (c.md5 !== undefined) {
    if (c.md5 === null || typeof c.md5 !== 'object' || Array.isArray(c.md5)) {
      issues.push({ path: `${path}.md5`, message: 'expected an object: file → md5 hex digest' });
    } else {
      for (const [file, expected] of Object.entries(c.md5 as Record<string, unknown>)) {
        const p = `${path}.md5["${file}"]`;
        if (typeof expected !== 'string' || !/^[0-9a-fA-F]{32}$/.test(expected)) {
          issues.push({ path: p, message: 'expected a 32-character md5 hex digest' });
          continue;
        }
        let code = codes.get(file);
        if (code === undefined) {
          try {
            code = readSource(file);
          } catch {
            issues.push({ path: p, message: `cannot read ${file}` });
            continue;
          }
        }
        const got = md5Hex(code);
        if (got !== expected.toLowerCase())
          issues.push({ path: p, message: `md5 of ${file} is ${got}, expected ${expected}` });
      }
    }
  }
  for (const key of ['pre', 'post'] as const) {
    if (c[key] !== undefined && typeof c[key] !== 'string')
      issues.push({ path: `${path}.${key}`, message: 'expected Lua code (string)' });
  }
  for (const key of ['live', 'allow_open_libs', 'skip_next'] as const) {
    if (c[key] !== undefined && typeof c[key] !== 'boolean')
      issues.push({ path: `${path}.${key}`, message: 'expected true or false' });
  }
  return issues;
}
