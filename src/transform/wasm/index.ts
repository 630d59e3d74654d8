// The endpoint response transform, two interchangeable paths with one contract:
//   parts (backend bodies in arrival order) → decode → per-backend manipulation → merge →
//   endpoint flatmap → JSON bytes.
// The WASM path (build/transform.wasm) works on bytes; the JS path is JSON.parse → the TS
// reference (src/transform) → JSON.stringify. Both throw TransformInputError for bodies that are
// not valid JSON, nest deeper than MAX_DEPTH, or are not the object/array the backend must return.
//
// Output key order (both paths): the order a JS object built by the reference would enumerate —
// array-index keys ("0", "1", …) first in ascending order, then the other keys in the order they
// were first set: document order for untouched objects, merge order (first arrival) at the top
// level, a renamed key where the reference puts it. The WASM path differs from JSON.stringify
// only in bytes JSON.parse cannot tell apart: numbers and string escapes are copied as the backend
// wrote them (1.50 stays 1.50, "\u00e9" stays escaped), and objects the transform does not touch
// keep their duplicate keys (JSON.parse takes the last one, as the JS path did).

import {
  type BackendManipulation,
  compileBackendManipulation,
  compileFlatmap,
  type FlatmapOp,
  mergeInto,
  wrapCollection,
} from '../index.js';
import { compilePlan, type EndpointTransformPlan, UnsupportedPlanError } from './plan.js';
import {
  ERR_DEPTH,
  ERR_FALLBACK,
  ERR_NOMEM,
  ERR_SHAPE,
  ERR_SYNTAX,
  MAX_DEPTH,
  type TransformExports,
  transformModule,
} from './runtime.js';

export type { EndpointTransformPlan } from './plan.js';
export { MAX_DEPTH } from './runtime.js';

export interface TransformPart {
  /** Index of the backend in the plan. */
  index: number;
  body: Uint8Array;
}

export interface EndpointTransform {
  run(parts: TransformPart[]): Buffer;
}

export interface WasmEndpointTransform extends EndpointTransform {
  readonly path: 'wasm';
}

/** A backend body the transform cannot take: invalid JSON, too deep, or not an object/array. */
export class TransformInputError extends Error {
  readonly code = 'GW_TRANSFORM_INPUT';
  constructor(
    message: string,
    /** Index (in the plan) of the backend whose body was refused. */
    readonly backendIndex: number,
  ) {
    super(message);
    this.name = 'TransformInputError';
  }
}

function depthExceeded(v: unknown, depth: number): boolean {
  if (v === null || typeof v !== 'object') return false;
  if (depth >= MAX_DEPTH) return true;
  if (Array.isArray(v)) {
    for (const item of v) if (depthExceeded(item, depth + 1)) return true;
  } else {
    for (const k in v as Record<string, unknown>) {
      if (depthExceeded((v as Record<string, unknown>)[k], depth + 1)) return true;
    }
  }
  return false;
}

function decodeJs(body: Uint8Array, isCollection: boolean, index: number, checkDepth: boolean) {
  if (body.length === 0) return {};
  const text = Buffer.isBuffer(body)
    ? body.toString('utf8')
    : Buffer.from(body.buffer, body.byteOffset, body.length).toString('utf8');
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new TransformInputError(`invalid JSON from backend ${index}: ${(err as Error).message}`, index);
  }
  if (checkDepth && depthExceeded(value, 0)) {
    throw new TransformInputError(`JSON from backend ${index} nests deeper than ${MAX_DEPTH} levels`, index);
  }
  if (isCollection) {
    if (!Array.isArray(value))
      throw new TransformInputError(`backend ${index} did not return a JSON array`, index);
    return wrapCollection(value);
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new TransformInputError(`backend ${index} did not return a JSON object`, index);
  }
  return value as Record<string, unknown>;
}

export interface JsTransformOptions {
  /** Refuse bodies nesting deeper than MAX_DEPTH, as the WASM path does (default true). */
  checkDepth?: boolean;
}

/** The JS path: JSON.parse → reference manipulation → merge → endpoint flatmap → JSON.stringify. */
export function jsEndpointTransform(
  plan: EndpointTransformPlan,
  options: JsTransformOptions = {},
): EndpointTransform {
  const checkDepth = options.checkDepth !== false;
  const backends = plan.backends.map((b) => ({
    isCollection: b.isCollection === true,
    transform: compileBackendManipulation(b),
  }));
  const endpointFlatmap =
    plan.endpointFlatmap && plan.endpointFlatmap.length > 0
      ? compileFlatmap(plan.endpointFlatmap)
      : undefined;
  return {
    run(parts) {
      const acc: Record<string, unknown> = {};
      for (const part of parts) {
        const b = backends[part.index];
        if (!b) continue;
        const data = decodeJs(part.body, b.isCollection, part.index, checkDepth);
        mergeInto(acc, b.transform ? b.transform(data) : data);
      }
      const out = endpointFlatmap ? endpointFlatmap(acc) : acc;
      return Buffer.from(JSON.stringify(out), 'utf8');
    },
  };
}

const stats = { runs: 0, fallbacks: 0 };

/** Runs of the WASM path in this thread, and how many of them the JS path answered instead. */
export function wasmTransformStats(): { runs: number; fallbacks: number } {
  return { ...stats };
}

class WasmTransform implements WasmEndpointTransform {
  readonly path = 'wasm' as const;
  private u8: Uint8Array;
  private i32: Int32Array;
  private readonly starts: number[] = [];
  private readonly resultWord: number;

  constructor(
    private readonly ex: TransformExports,
    private readonly planPtr: number,
    private readonly backendCount: number,
    private readonly fallback: EndpointTransform,
  ) {
    this.u8 = new Uint8Array(ex.memory.buffer);
    this.i32 = new Int32Array(ex.memory.buffer);
    this.resultWord = ex.resultAddr() >> 2;
  }

  /** The views over WASM memory; growing the memory detaches them (length 0), then they are rebuilt. */
  private views(): Uint8Array {
    if (this.u8.length === 0) {
      const buffer = this.ex.memory.buffer;
      this.u8 = new Uint8Array(buffer);
      this.i32 = new Int32Array(buffer);
    }
    return this.u8;
  }

  run(parts: TransformPart[]): Buffer {
    const ex = this.ex;
    const n = parts.length;
    stats.runs++;
    let status: number;
    if (n === 1) {
      const body = parts[0].body;
      const ptr = ex.beginWith(body.length);
      if (ptr === 0) return this.runFallback(parts);
      this.views().set(body, ptr);
      this.starts[0] = ptr;
      status = ex.run1(this.planPtr, parts[0].index, ptr, body.length);
    } else {
      ex.begin();
      const starts = this.starts;
      for (let i = 0; i < n; i++) {
        const body = parts[i].body;
        const ptr = ex.inputAlloc(body.length);
        if (ptr === 0) return this.runFallback(parts);
        this.views().set(body, ptr);
        starts[i] = ptr;
      }
      const desc = ex.inputAlloc(12 * n);
      if (desc === 0) return this.runFallback(parts);
      this.views();
      const i32 = this.i32;
      for (let i = 0, w = desc >> 2; i < n; i++, w += 3) {
        i32[w] = parts[i].index;
        i32[w + 1] = starts[i];
        i32[w + 2] = parts[i].body.length;
      }
      status = ex.run(this.planPtr, desc, n);
    }
    if (status === 0) {
      const u8 = this.views();
      const ptr = this.i32[this.resultWord];
      const len = this.i32[this.resultWord + 1];
      const out = Buffer.allocUnsafe(len);
      out.set(u8.subarray(ptr, ptr + len));
      return out;
    }
    if (status === ERR_FALLBACK || status === ERR_NOMEM) return this.runFallback(parts);
    throw this.inputError(status, ex.errorPos(), parts);
  }

  private runFallback(parts: TransformPart[]): Buffer {
    stats.fallbacks++;
    return this.fallback.run(parts);
  }

  private inputError(status: number, pos: number, parts: TransformPart[]): TransformInputError {
    let i = 0;
    for (let k = 0; k < parts.length; k++) {
      if (pos >= this.starts[k] && pos <= this.starts[k] + parts[k].body.length) i = k;
    }
    const index = parts[i]?.index ?? 0;
    const offset = pos - (this.starts[i] ?? 0);
    if (status === ERR_DEPTH)
      return new TransformInputError(
        `JSON from backend ${index} nests deeper than ${MAX_DEPTH} levels`,
        index,
      );
    if (status === ERR_SHAPE) {
      const want = this.backendCount > index && this.isCollection(index) ? 'array' : 'object';
      return new TransformInputError(`backend ${index} did not return a JSON ${want}`, index);
    }
    if (status === ERR_SYNTAX)
      return new TransformInputError(`invalid JSON from backend ${index} at byte ${offset}`, index);
    return new TransformInputError(`backend ${index}: transform failed (${status})`, index);
  }

  private isCollection(index: number): boolean {
    return (this.i32[(this.planPtr >> 2) + 3 + 3 * index] & 1) === 1;
  }
}

/**
 * The measured rule: which plans the JS path serves faster. `npm run bench:transform` (5 mixes ×
 * 4 sizes) and the adversarial shapes in /work/notes/readme-wasm.md (15-byte bodies, pretty-printed
 * and non-ASCII documents, 2,000-key objects, three-level wildcards, an endpoint flatmap over a
 * moved collection) all measured faster on WASM, the lowest at 3.0× (a 15-byte body, where the
 * fixed cost of crossing into WASM dominates). No plan shape measured slower, so no plan declines;
 * the hook stays so that a shape measured slower in the future is routed here, with its numbers.
 * Per request, the bridge still hands the rare input it does not reproduce byte for byte (invalid
 * UTF-8 in a string, a `__proto__` key at a level it opens) and memory exhaustion to the JS path.
 */
function wasmDeclines(plan: EndpointTransformPlan): string | undefined {
  void plan;
  return undefined;
}

/**
 * The WASM transform for this plan, or undefined when the JS path serves it better (a measured
 * rule, see wasmDeclines) or the module is not available.
 */
export function createWasmEndpointTransform(
  plan: EndpointTransformPlan,
  options: { /** Skip the measured rule (benchmarks, tests). */ force?: boolean } = {},
): WasmEndpointTransform | undefined {
  if (!options.force && wasmDeclines(plan)) return undefined;
  const ex = transformModule();
  if (!ex) return undefined;
  let compiled: ReturnType<typeof compilePlan>;
  try {
    compiled = compilePlan(plan);
  } catch (err) {
    if (err instanceof UnsupportedPlanError) return undefined;
    throw err;
  }
  const base = ex.planAlloc(compiled.block.byteLength);
  if (base === 0) return undefined;
  compiled.block.place(new Uint8Array(ex.memory.buffer), base);
  const planPtr = base + compiled.root * 4;
  return new WasmTransform(ex, planPtr, plan.backends.length, jsEndpointTransform(plan));
}

export type { BackendManipulation, FlatmapOp };
