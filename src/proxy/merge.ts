// The proxy layer's core, as Lura's proxy/merging.go, proxy/concurrent.go and the no-op proxy
// build it: the endpoint's backends called, their answers combined into one ProxyResponse.
// Which combination an endpoint gets is decided once (pipeline.ts):
// - no-op: one backend, its answer passed on;
// - a parallel merge of bytes: the WASM transform decodes, manipulates and merges the backends'
//   JSON in one pass, without JS objects;
// - a parallel merge of objects: each answer decoded and manipulated, merged key by key in order
//   of arrival;
// - a sequence (`proxy.sequential`): one backend after the other, each reading the answers before.
// Each runs in continuation style (`run(req, done)`): no promise, one object per request.

import type { Logger } from 'pino';
import type { DataTransform } from '../transform/index.js';
import { mergeInto } from '../transform/index.js';
import {
  TransformInputError,
  type TransformPart,
  type WasmEndpointTransform,
} from '../transform/wasm/index.js';
import { BackendError, type BackendResponse, type GwRequest, type ProxyResponse } from '../types.js';
import { type SequentialValues, sequentialParam } from './backend-request.js';
import type { BackendSink, CompiledBackend } from './backend-stage.js';
import { DecodeError, errorDetails, logBackendFailure, toBackendError } from './errors.js';

/** Hears the proxy layer's answer. */
export interface ProxyDone {
  done(pr: ProxyResponse): void;
}

/** The proxy layer's core: runs the backends of `req`, tells `done` the combined answer. */
export interface ProxyCore {
  run(req: GwRequest, done: ProxyDone): void;
  /** What it is, for the `-d` log. */
  describe: string;
}

interface MergeContext {
  logger: Logger;
  endpointLabel: string;
}

function logFailure(ctx: MergeContext, b: CompiledBackend, err: unknown): void {
  logBackendFailure(ctx.logger, ctx.endpointLabel, b.label, err);
}

// ---------------------------------------------------------------------------------------------
// no-op

/** One no-op call: the backend's answer, or its failure, as the proxy layer's answer. */
class NoopCall implements BackendSink {
  constructor(
    private readonly core: NoopCore,
    private readonly done: ProxyDone,
  ) {}

  resolved(res: BackendResponse): void {
    this.done.done({
      data: null,
      raw: res.body,
      head: res.head,
      stream: res.stream,
      status: res.status,
      headers: res.headers,
      isComplete: false,
    });
  }

  rejected(err: unknown): void {
    logFailure(this.core.ctx, this.core.backend, err);
    this.done.done({ data: null, isComplete: false, error: toBackendError(err) });
  }
}

class NoopCore implements ProxyCore {
  readonly describe = 'no-op: the backend answer passed on';
  constructor(
    readonly backend: CompiledBackend,
    readonly ctx: MergeContext,
  ) {}

  run(req: GwRequest, done: ProxyDone): void {
    this.backend.call(req, undefined, new NoopCall(this, done));
  }
}

export function noopCore(backend: CompiledBackend, ctx: MergeContext): ProxyCore {
  return new NoopCore(backend, ctx);
}

/**
 * The failure of a parallel call so far, with `err` added. One backend: its own error (Lura builds
 * no merge for it). Several: Lura's mergeError (proxy/merging.go) — every failure's text, one a
 * line in order of arrival, and a 500 whatever the backends said, since it carries no status of
 * its own (router/gin/endpoint.go then answers DefaultToHTTPError's 500).
 */
function failureOf(backends: number, failed: BackendError | undefined, err: unknown): BackendError {
  const e = toBackendError(err);
  if (backends === 1) return failed ?? e;
  // A return_error_code failure's text is the backend's body (HTTPResponseError.Error).
  const text = e.passesBackendAnswer ? (e.body?.toString('utf8') ?? '') : e.message;
  return new BackendError(failed === undefined ? text : `${failed.message}\n${text}`, 500);
}

// ---------------------------------------------------------------------------------------------
// parallel merge of bytes (WASM)

/** One request's byte merge: each backend's sink counts down, the last one finishes it. */
class ByteMerge {
  pending: number;
  readonly parts: TransformPart[] = [];
  failed: BackendError | undefined = undefined;
  constructor(
    readonly core: ByteMergeCore,
    readonly done: ProxyDone,
  ) {
    this.pending = core.backends.length;
  }

  settled(): void {
    if (--this.pending === 0) this.done.done(this.core.finish(this.parts, this.failed));
  }
}

class BytePart implements BackendSink {
  constructor(
    private readonly merge: ByteMerge,
    private readonly b: CompiledBackend,
  ) {}

  resolved(res: BackendResponse): void {
    this.merge.parts.push({ index: this.b.index, body: res.body });
    this.merge.settled();
  }

  rejected(err: unknown): void {
    const merge = this.merge;
    logFailure(merge.core.ctx, this.b, err);
    merge.failed = failureOf(merge.core.backends.length, merge.failed, err);
    merge.settled();
  }
}

class ByteMergeCore implements ProxyCore {
  readonly describe: string;
  constructor(
    readonly backends: CompiledBackend[],
    private readonly wasm: WasmEndpointTransform,
    readonly ctx: MergeContext,
  ) {
    this.describe = `merge of ${backends.length} backend${backends.length > 1 ? 's' : ''} as bytes (WASM)`;
  }

  run(req: GwRequest, done: ProxyDone): void {
    const merge = new ByteMerge(this, done);
    for (const b of this.backends) b.call(req, undefined, new BytePart(merge, b));
  }

  /** The parts in order of arrival through the transform; a part it refuses counts as failed. */
  finish(parts: TransformPart[], failed: BackendError | undefined): ProxyResponse {
    for (;;) {
      if (parts.length === 0)
        return { data: null, isComplete: false, error: failed ?? new BackendError('no data', 500) };
      try {
        return { data: null, json: this.wasm.run(parts), isComplete: failed === undefined };
      } catch (err) {
        if (!(err instanceof TransformInputError)) {
          this.ctx.logger.error(
            `[ENDPOINT: ${this.ctx.endpointLabel}] transform failed: ${(err as Error).message}`,
          );
          return { data: null, isComplete: false, error: toBackendError(err) };
        }
        logFailure(this.ctx, this.backends[err.backendIndex], new DecodeError(err.message));
        failed ??= new BackendError(err.message, 500);
        parts = parts.filter((p) => p.index !== err.backendIndex);
      }
    }
  }
}

export function byteMergeCore(
  backends: CompiledBackend[],
  wasm: WasmEndpointTransform,
  ctx: MergeContext,
): ProxyCore {
  return new ByteMergeCore(backends, wasm, ctx);
}

// ---------------------------------------------------------------------------------------------
// parallel merge of objects

/** The data of one backend's answer after its own manipulation. */
function dataOf(b: CompiledBackend, res: BackendResponse): Record<string, unknown> {
  const data = b.dataOf(res);
  return b.transform ? b.transform(data) : data;
}

class ObjectMerge {
  pending: number;
  acc: Record<string, unknown> | null = null;
  failed: BackendError | undefined = undefined;
  constructor(
    readonly core: ObjectMergeCore,
    readonly done: ProxyDone,
  ) {
    this.pending = core.backends.length;
  }

  add(data: Record<string, unknown>): void {
    this.acc ??= {};
    mergeInto(this.acc, data);
  }

  settled(): void {
    if (--this.pending === 0) this.done.done(this.core.finish(this.acc, this.failed));
  }
}

class ObjectPart implements BackendSink {
  constructor(
    private readonly merge: ObjectMerge,
    private readonly b: CompiledBackend,
  ) {}

  resolved(res: BackendResponse): void {
    let data: Record<string, unknown>;
    try {
      data = dataOf(this.b, res);
    } catch (err) {
      this.rejected(err);
      return;
    }
    this.merge.add(data);
    this.merge.settled();
  }

  rejected(err: unknown): void {
    const merge = this.merge;
    logFailure(merge.core.ctx, this.b, err);
    merge.failed = failureOf(merge.core.backends.length, merge.failed, err);
    const details = this.b.detailsAlias !== undefined ? errorDetails(err) : undefined;
    if (details !== undefined) merge.add({ [`error_${this.b.detailsAlias}`]: details });
    merge.settled();
  }
}

class ObjectMergeCore implements ProxyCore {
  readonly describe: string;
  constructor(
    readonly backends: CompiledBackend[],
    private readonly endpointFlatmap: DataTransform | undefined,
    readonly ctx: MergeContext,
  ) {
    this.describe =
      backends.length === 1 ? 'one backend, decoded' : `merge of ${backends.length} backends as objects`;
  }

  run(req: GwRequest, done: ProxyDone): void {
    const merge = new ObjectMerge(this, done);
    for (const b of this.backends) b.call(req, undefined, new ObjectPart(merge, b));
  }

  finish(acc: Record<string, unknown> | null, failed: BackendError | undefined): ProxyResponse {
    // One backend that failed without details: no data at all (Lura's single-backend proxy).
    if (acc !== null && this.endpointFlatmap) acc = this.endpointFlatmap(acc);
    return { data: acc, isComplete: failed === undefined, error: failed };
  }
}

export function objectMergeCore(
  backends: CompiledBackend[],
  endpointFlatmap: DataTransform | undefined,
  ctx: MergeContext,
): ProxyCore {
  return new ObjectMergeCore(backends, endpointFlatmap, ctx);
}

// ---------------------------------------------------------------------------------------------
// sequence

/** A value of a previous answer that a backend of a sequence gets as a param (`Resp0_id`). */
export interface SequentialParam {
  /** The param's name, as Lura names it: `Resp<index>` then `_<path>` when there is one. */
  name: string;
  index: number;
  path: string[];
}

const RESP_IN_PATTERN = /\{resp(\d+)_([\w\-.]+)\}/g;
const RESP_PROPAGATED = /[Rr]esp(\d+)_?([\w\-.]+)?/g;

/**
 * The params each backend of a sequence gets from the answers before it, as Lura's
 * sequentialMergerConfig (luraproject/lura proxy/merging.go) lists them: the `{respN_x}` of its
 * url_pattern and, after the first backend, the endpoint's `sequential_propagated_params`. A
 * backend's middlewares (Lua's `params()`) see them, and they stay set for the backends after.
 */
export function compileSequentialParams(
  urlPatterns: string[],
  propagated: readonly string[],
): SequentialParam[][] {
  const total = urlPatterns.length;
  const param = (index: string, path: string | undefined): SequentialParam => ({
    name: path ? `Resp${index}_${path}` : `Resp${index}`,
    index: Number(index),
    path: path ? path.split('.') : [],
  });
  return urlPatterns.map((pattern, i) => {
    const out: SequentialParam[] = [];
    for (const m of pattern.matchAll(RESP_IN_PATTERN)) out.push(param(m[1], m[2]));
    if (i > 0)
      for (const p of propagated)
        for (const m of p.matchAll(RESP_PROPAGATED)) if (Number(m[1]) < total) out.push(param(m[1], m[2]));
    return out;
  });
}

/** One request's sequence: the backends one after the other, each reading the answers before. */
class Sequence implements BackendSink {
  private at = 0;
  private acc: Record<string, unknown> | null = null;
  private readonly seq: SequentialValues = [];
  /** The request as the backends see it once a previous answer gave params (see SequentialParam). */
  private view: GwRequest;
  constructor(
    private readonly core: SequenceCore,
    req: GwRequest,
    private readonly done: ProxyDone,
  ) {
    this.view = req;
  }

  next(): void {
    const backends = this.core.backends;
    if (this.at === backends.length) {
      this.done.done(this.core.finish(this.acc, undefined));
      return;
    }
    const params = this.core.params[this.at];
    if (params !== undefined && params.length > 0) this.addParams(params);
    backends[this.at].call(this.view, this.seq, this);
  }

  private addParams(params: SequentialParam[]): void {
    let view = this.view;
    for (const p of params) {
      if (p.index >= this.at) continue;
      const value = sequentialParam(this.seq, p.index, p.path);
      if (value === undefined) continue;
      if (view === this.view) {
        // The client's request stays as it is: the backends get a view with params of their own.
        view = Object.create(this.view) as GwRequest;
        view.params = { ...this.view.params };
      }
      view.params[p.name] = value;
    }
    this.view = view;
  }

  resolved(res: BackendResponse): void {
    const b = this.core.backends[this.at];
    if (b.noop) {
      this.seq[b.index] = res.body.toString('utf8');
    } else {
      let data: Record<string, unknown>;
      try {
        data = dataOf(b, res);
      } catch (err) {
        this.rejected(err);
        return;
      }
      this.seq[b.index] = data;
      this.acc ??= {};
      mergeInto(this.acc, data);
    }
    this.at++;
    this.next();
  }

  rejected(err: unknown): void {
    const b = this.core.backends[this.at];
    logFailure(this.core.ctx, b, err);
    const details = b.detailsAlias !== undefined ? errorDetails(err) : undefined;
    if (details !== undefined) {
      this.acc ??= {};
      mergeInto(this.acc, { [`error_${b.detailsAlias}`]: details });
    }
    this.done.done(this.core.finish(this.acc, toBackendError(err)));
  }
}

class SequenceCore implements ProxyCore {
  readonly describe: string;
  constructor(
    readonly backends: CompiledBackend[],
    readonly params: SequentialParam[][],
    private readonly endpointFlatmap: DataTransform | undefined,
    readonly ctx: MergeContext,
  ) {
    this.describe = `sequence of ${backends.length} backends`;
  }

  run(req: GwRequest, done: ProxyDone): void {
    new Sequence(this, req, done).next();
  }

  finish(acc: Record<string, unknown> | null, failed: BackendError | undefined): ProxyResponse {
    if (acc !== null && this.endpointFlatmap) acc = this.endpointFlatmap(acc);
    return { data: acc, isComplete: failed === undefined, error: failed };
  }
}

export function sequenceCore(
  backends: CompiledBackend[],
  params: SequentialParam[][],
  endpointFlatmap: DataTransform | undefined,
  ctx: MergeContext,
): ProxyCore {
  return new SequenceCore(backends, params, endpointFlatmap, ctx);
}
