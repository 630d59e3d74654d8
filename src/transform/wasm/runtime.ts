// One instance of build/transform.wasm per thread (module state is per worker), created on first use.

import { readFileSync } from 'node:fs';

export interface TransformExports {
  memory: WebAssembly.Memory;
  planAlloc(size: number): number;
  begin(): void;
  inputAlloc(size: number): number;
  run(plan: number, parts: number, count: number): number;
  beginWith(size: number): number;
  run1(plan: number, index: number, ptr: number, len: number): number;
  resultAddr(): number;
  outputPtr(): number;
  outputLen(): number;
  errorPos(): number;
}

// Status codes of run(): keep in sync with wasm/json/memory.ts.
export const ERR_SYNTAX = 1;
export const ERR_DEPTH = 2;
export const ERR_SHAPE = 3;
export const ERR_NOMEM = 4;
export const ERR_FALLBACK = 5;

/** Deepest nesting accepted on both paths (wasm/json/reader.ts MAX_DEPTH). */
export const MAX_DEPTH = 512;

const WASM_URL = new URL('../../../build/transform.wasm', import.meta.url);

let instance: TransformExports | null | undefined;

/** The thread's module instance, or null when build/transform.wasm is missing or does not load. */
export function transformModule(): TransformExports | null {
  if (instance !== undefined) return instance;
  try {
    const module = new WebAssembly.Module(readFileSync(WASM_URL));
    instance = new WebAssembly.Instance(module, {}).exports as unknown as TransformExports;
  } catch {
    instance = null;
  }
  return instance;
}
