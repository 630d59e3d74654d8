// asc-flags: --enable simd
// JSON response transform: reads each backend's body bytes, applies the endpoint's compiled
// program (target, allow/deny, mapping, group, flatmap, merge) and writes the response bytes.
// The program format is produced by src/transform/wasm/plan.ts; see wasm/json/program.ts.

import {
  ERR_NOMEM,
  ERR_NONE,
  allocChecked,
  allocPersistent,
  failure,
  failurePos,
  resetArena,
} from './json/memory';
import { runPlan } from './json/program';
import { outputLength } from './json/writer';

let outPtr: usize = 0;
// Output pointer and length of the last run, read by the bridge without a call.
const RESULT: usize = memory.data(8);

export function resultAddr(): usize {
  return RESULT;
}

/** Persistent block for a plan (call between runs only). 0 when memory is exhausted. */
export function planAlloc(size: u32): usize {
  // 16 bytes of slack: key bytes are read as 16-byte vectors (json/writer.ts copyBytes)
  return allocPersistent(<usize>size + 16);
}

/** Starts a run: rewinds the arena. */
export function begin(): void {
  resetArena();
}

/** Room for an input body of `size` bytes followed by 16 zero bytes. 0 when memory is exhausted. */
export function inputAlloc(size: u32): usize {
  const p = allocChecked(<usize>size + 16);
  if (p != 0) v128.store(p + size, i64x2.splat(0));
  return p;
}

/**
 * Runs a plan over `count` parts described at `parts` (count × [backend index, ptr, len] i32).
 * Returns 0 on success (output at outputPtr/outputLen), else an error code from json/memory.
 */
export function run(plan: usize, parts: usize, count: i32): i32 {
  outPtr = runPlan(plan, parts, count);
  if (failure != ERR_NONE) return failure;
  if (outPtr == 0) return ERR_NOMEM;
  store<usize>(RESULT, outPtr);
  store<usize>(RESULT, outputLength(), 4);
  return 0;
}

/** begin() and inputAlloc(size) in one call: the usual single-body request. */
export function beginWith(size: u32): usize {
  resetArena();
  return inputAlloc(size);
}

/** run() for one body already at ptr (from beginWith). */
export function run1(plan: usize, index: i32, ptr: usize, len: u32): i32 {
  const desc = allocChecked(12);
  if (desc == 0) return ERR_NOMEM;
  store<i32>(desc, index);
  store<usize>(desc, ptr, 4);
  store<u32>(desc, len, 8);
  return run(plan, desc, 1);
}

export function outputPtr(): usize {
  return outPtr;
}

export function outputLen(): usize {
  return outputLength();
}

export function errorPos(): usize {
  return failurePos;
}
