// Linear-memory layout of the transform module, below AssemblyScript's static data:
//
//   [static data][persistent: plans, compiled at startup][arena: one run's inputs, nodes, output]
//
// Plans are laid down once and live as long as the module. Everything a request makes lives in
// the arena, which `resetArena` rewinds at the start of every run, so memory stops growing once
// the largest request has been seen. Allocation never traps: when memory cannot grow, the run is
// marked failed and allocations land in a scratch block, so callers need no checks on the hot path.

// @ts-ignore: decorator
@inline export const ERR_NONE: i32 = 0;
// @ts-ignore: decorator
@inline export const ERR_SYNTAX: i32 = 1;
// @ts-ignore: decorator
@inline export const ERR_DEPTH: i32 = 2;
// @ts-ignore: decorator
@inline export const ERR_SHAPE: i32 = 3; // valid JSON, but not the object/array the backend must return
// @ts-ignore: decorator
@inline export const ERR_NOMEM: i32 = 4;
// Input the WASM path does not reproduce byte-for-byte (invalid UTF-8 inside a string, a
// `__proto__` key at a level the transform touches): the bridge reruns that request on the JS path.
// @ts-ignore: decorator
@inline export const ERR_FALLBACK: i32 = 5;

export let failure: i32 = ERR_NONE;
export let failurePos: usize = 0;

// @ts-ignore: decorator
@inline export function fail(code: i32, pos: usize): void {
  if (failure == ERR_NONE) {
    failure = code;
    failurePos = pos;
  }
}

const SCRATCH_SIZE: usize = 256;
let scratch: usize = 0;
let persistentTop: usize = 0;
let arenaTop: usize = 0;
let memEnd: usize = 0;

function init(): void {
  if (persistentTop != 0) return;
  scratch = (__heap_base + 15) & ~(<usize>15);
  persistentTop = scratch + SCRATCH_SIZE;
  arenaTop = persistentTop;
  memEnd = (<usize>memory.size()) << 16;
}

function grow(need: usize): bool {
  const missing = need - memEnd;
  let pages = <i32>((missing + 0xffff) >> 16);
  const current = memory.size();
  // Grow by at least half the current size so a growing workload does not grow page by page.
  if (pages < (current >> 1)) pages = current >> 1;
  if (memory.grow(pages) < 0) {
    if (memory.grow(<i32>((missing + 0xffff) >> 16)) < 0) return false;
  }
  memEnd = (<usize>memory.size()) << 16;
  return true;
}

/** Persistent allocation (plans). Only between runs: it moves the arena's base. */
export function allocPersistent(size: usize): usize {
  init();
  const ptr = (persistentTop + 7) & ~(<usize>7);
  const end = ptr + size;
  if (end > memEnd && !grow(end)) return 0;
  persistentTop = end;
  arenaTop = end;
  return ptr;
}

export function resetArena(): void {
  init();
  arenaTop = (persistentTop + 7) & ~(<usize>7);
  failure = ERR_NONE;
  failurePos = 0;
}

/** Arena allocation, 4-byte aligned. Never returns 0: on exhaustion the run fails with ERR_NOMEM. */
// @ts-ignore: decorator
@inline export function alloc(size: usize): usize {
  const ptr = arenaTop;
  const end = ptr + ((size + 3) & ~(<usize>3));
  if (end > memEnd) return allocSlow(end, size);
  arenaTop = end;
  return ptr;
}

function allocSlow(end: usize, size: usize): usize {
  if (grow(end)) {
    const ptr = arenaTop;
    arenaTop = end;
    return ptr;
  }
  fail(ERR_NOMEM, 0);
  return size <= SCRATCH_SIZE ? scratch : 0;
}

/** Arena allocation that may fail (returns 0): for inputs whose size the caller checks. */
export function allocChecked(size: usize): usize {
  const ptr = (arenaTop + 7) & ~(<usize>7);
  const end = ptr + size;
  if (end > memEnd && !grow(end)) return 0;
  arenaTop = end;
  return ptr;
}

export function arenaPosition(): usize {
  return arenaTop;
}

/** Makes room for `size` more bytes right at the arena top (the output buffer grows there). */
export function reserveAtTop(from: usize, size: usize): bool {
  const end = from + size;
  if (end > memEnd && !grow(end)) return false;
  return true;
}

export function setArenaTop(top: usize): void {
  arenaTop = (top + 3) & ~(<usize>3);
}
