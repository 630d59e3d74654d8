// Lua 5.4 (wasmoon's WebAssembly build) driven through its raw C API. wasmoon's own JS interop
// converts every value through a chain of type extensions and costs ~100 µs for a trivial
// call; this bridge pushes and reads values directly in the WASM heap instead (see
// /work/notes/readme-scripting.md for the figures). One WASM module per worker thread,
// many Lua states in it (one small pool per configured script), each with its own memory cap
// and an instruction/time budget enforced by a count hook.

import type { LuaWasm } from 'wasmoon';
import { HTTP_YIELD, Kind, Op, PRELUDE } from './prelude.js';

const LUA_REGISTRYINDEX = -1000000 - 1000;
const LUA_OK = 0;
const LUA_YIELD = 1;
const T_NIL = 0;
const T_BOOLEAN = 1;
const T_NUMBER = 3;
const T_STRING = 4;
const T_TABLE = 5;
const LUA_MASKCOUNT = 8;
/** Instructions between two hook calls. */
const HOOK_STEP = 1000;

/** Limits applied to every script execution (pre, post, sources at load). */
export interface LuaLimits {
  /** VM instructions per execution. */
  maxInstructions: number;
  /** Wall-clock milliseconds of Lua execution per execution (network waits excluded). */
  maxMillis: number;
  /** Bytes a Lua state may hold. */
  maxMemory: number;
}

function envNumber(name: string, fallback: number): number {
  const v = Number(process.env[name]);
  return Number.isFinite(v) && v > 0 ? v : fallback;
}

export const defaultLimits: LuaLimits = {
  maxInstructions: envNumber('GW_LUA_MAX_INSTRUCTIONS', 20_000_000),
  maxMillis: envNumber('GW_LUA_TIMEOUT_MS', 1000),
  maxMemory: envNumber('GW_LUA_MAX_MEMORY', 64 * 1024 * 1024),
};

/** What an http_response call returns. */
export interface HttpResult {
  status: number;
  headers: Record<string, string[]>;
  body: Buffer;
}

export type HttpFetcher = (
  url: string,
  method: string,
  body: string | undefined,
  headers: Record<string, string>,
) => Promise<HttpResult>;

/** The request/response/ctx objects a script sees, implemented by api.ts. */
export interface LuaView {
  /** `args` are the converted Lua arguments (undefined for nil); returns the value to give back. */
  call(op: number, args: unknown[]): unknown;
}

/** A script raised custom_error(msg, status, content_type). */
export class LuaCustomError extends Error {
  constructor(
    message: string,
    readonly status: number,
    readonly contentType: string | undefined,
  ) {
    super(message);
  }
}

/** A script failed (runtime error, runaway, out of memory). */
export class LuaScriptError extends Error {
  constructor(
    message: string,
    readonly runaway: boolean,
  ) {
    super(message);
  }
}

/** One execution: the objects a script may reach and the JS values behind its handles. */
export class LuaExec {
  req?: LuaView;
  resp?: LuaView;
  /** Which loader gives `req`: `ctx.load()` (router layer) or `request.load()` (proxy layers). */
  reqLoader: 'ctx' | 'request' = 'request';
  fetch?: HttpFetcher;
  objs: unknown[] = [];
  index = new Map<unknown, number>();
  epoch = 0;
  pending: Array<Promise<HttpResult> | undefined> = [];
  runaway = false;
}

type Module = Record<string, any>;

type Fn = (...args: any[]) => any;

/** The C functions used here, on an object of fixed shape (the module object is huge). */
function bindC(src: Module) {
  return {
    free: src._free as Fn,
    luaL_getmetafield: src._luaL_getmetafield as Fn,
    luaL_loadbufferx: src._luaL_loadbufferx as Fn,
    luaL_openlibs: src._luaL_openlibs as Fn,
    luaL_ref: src._luaL_ref as Fn,
    luaL_unref: src._luaL_unref as Fn,
    lua_absindex: src._lua_absindex as Fn,
    lua_close: src._lua_close as Fn,
    lua_error: src._lua_error as Fn,
    lua_getfield: src._lua_getfield as Fn,
    lua_getglobal: src._lua_getglobal as Fn,
    lua_newstate: src._lua_newstate as Fn,
    lua_newthread: src._lua_newthread as Fn,
    lua_next: src._lua_next as Fn,
    lua_pcallk: src._lua_pcallk as Fn,
    lua_pushboolean: src._lua_pushboolean as Fn,
    lua_pushcclosure: src._lua_pushcclosure as Fn,
    lua_pushinteger: src._lua_pushinteger as Fn,
    lua_pushlstring: src._lua_pushlstring as Fn,
    lua_pushnil: src._lua_pushnil as Fn,
    lua_pushnumber: src._lua_pushnumber as Fn,
    lua_rawgeti: src._lua_rawgeti as Fn,
    lua_rawlen: src._lua_rawlen as Fn,
    lua_resume: src._lua_resume as Fn,
    lua_setglobal: src._lua_setglobal as Fn,
    lua_sethook: src._lua_sethook as Fn,
    lua_settop: src._lua_settop as Fn,
    lua_toboolean: src._lua_toboolean as Fn,
    lua_tolstring: src._lua_tolstring as Fn,
    lua_tonumberx: src._lua_tonumberx as Fn,
    lua_type: src._lua_type as Fn,
    malloc: src._malloc as Fn,
    realloc: src._realloc as Fn,
  };
}
let C: ReturnType<typeof bindC>;
let wasmMemory: WebAssembly.Memory | undefined;
let u8: Uint8Array = new Uint8Array(0);
let u32: Uint32Array = new Uint32Array(0);
let i32: Int32Array = new Int32Array(0);

function refreshViews(): void {
  const buffer = wasmMemory ? wasmMemory.buffer : (M.HEAPU8 as Uint8Array).buffer;
  u8 = new Uint8Array(buffer);
  u32 = new Uint32Array(buffer);
  i32 = new Int32Array(buffer);
}

// Views are replaced when the WASM memory grows (its old buffer is detached: length 0).
function heapU8(): Uint8Array {
  if (u8.byteLength === 0) refreshViews();
  return u8;
}
function heapU32(): Uint32Array {
  heapU8();
  return u32;
}
function heapI32(): Int32Array {
  heapU8();
  return i32;
}

let wasmPromise: Promise<void> | undefined;
let M: Module;
let luaApi: LuaWasm;
let scratch = 0;
let scratchCap = 0;
let lenPtr = 0;
let nresPtr = 0;
const cstrs = new Map<string, number>();
let nativePtr = 0;
let hookPtr = 0;
let allocPtr = 0;
let epochCounter = 1;

/** Per-state memory accounting, keyed by the `ud` given to lua_newstate. */
const memory = new Map<number, { used: number; max: number }>();
let stateIds = 1;

let currentExec: LuaExec | undefined;
let hookTicks = 0;
let hookBudget = 0;
let hookDeadline = 0;
let hookMillis = 0;

const utf8 = new TextDecoder('utf-8');
const utf8Enc = new TextEncoder();

/** Loads the WASM Lua once per thread; resolves when states can be created. */
export function loadLua(): Promise<void> {
  wasmPromise ??= (async () => {
    const { LuaWasm } = await import('wasmoon');
    // wasmoon ships a build with assertions: every exported C function goes through a checking
    // wrapper (`fn.apply(null, arguments)`), ~5x the cost of the call itself. Catching the
    // instance while it is created gives the raw exports; the wrappers stay as a fallback.
    const instantiate = WebAssembly.instantiate;
    let exports: Record<string, unknown> | undefined;
    WebAssembly.instantiate = (async (...args: Parameters<typeof instantiate>) => {
      const out = (await instantiate(...args)) as unknown as
        | WebAssembly.WebAssemblyInstantiatedSource
        | WebAssembly.Instance;
      exports = ('instance' in out ? out.instance : out).exports as Record<string, unknown>;
      return out;
    }) as typeof instantiate;
    try {
      luaApi = await LuaWasm.initialize();
    } finally {
      WebAssembly.instantiate = instantiate;
    }
    const wrapped = luaApi.module as unknown as Module;
    M = Object.create(wrapped) as Module;
    for (const key of Object.keys(wrapped)) {
      if (!key.startsWith('_') || typeof wrapped[key] !== 'function') continue;
      const raw = exports?.[key.slice(1)];
      if (typeof raw === 'function') M[key] = raw;
    }
    C = bindC(M);
    wasmMemory = exports?.memory instanceof WebAssembly.Memory ? exports.memory : undefined;
    refreshViews();
    lenPtr = C.malloc(8);
    nresPtr = C.malloc(8);
    nativePtr = M.addFunction(native, 'ii');
    hookPtr = M.addFunction(hook, 'vii');
    allocPtr = M.addFunction(allocate, 'iiiii');
  })();
  return wasmPromise;
}

export function luaLoaded(): boolean {
  return M !== undefined;
}

function cstr(s: string): number {
  let p = cstrs.get(s);
  if (p === undefined) {
    const bytes = utf8Enc.encode(s);
    p = C.malloc(bytes.length + 1) as number;
    heapU8().set(bytes, p);
    heapU8()[p + bytes.length] = 0;
    cstrs.set(s, p);
  }
  return p;
}

function allocate(ud: number, ptr: number, oldSize: number, newSize: number): number {
  const stats = memory.get(ud);
  if (newSize === 0) {
    if (ptr) {
      if (stats) stats.used -= oldSize;
      C.free(ptr);
    }
    return 0;
  }
  const delta = ptr ? newSize - oldSize : newSize;
  if (stats && delta > 0 && stats.used + delta > stats.max) return 0;
  const out = C.realloc(ptr, newSize) as number;
  if (out && stats) stats.used += delta;
  return out;
}

function hook(L: number): void {
  hookTicks++;
  if (hookTicks > hookBudget || ((hookTicks & 15) === 0 && Date.now() > hookDeadline)) {
    if (currentExec) currentExec.runaway = true;
    // From now on every instruction of this coroutine raises: a pcall around the loop cannot
    // swallow the stop (the main state, whose hook new coroutines copy, is left untouched).
    C.lua_sethook(L, hookPtr, LUA_MASKCOUNT, 1);
    pushString(
      L,
      `script stopped: it ran past its budget (${hookBudget * HOOK_STEP} instructions or ${hookMillis} ms)`,
    );
    C.lua_error(L);
  }
}

// ---- values between the heaps -------------------------------------------------------------

function ensureScratch(n: number): void {
  if (n <= scratchCap) return;
  if (scratch) C.free(scratch);
  scratchCap = Math.max(256, n * 2);
  scratch = C.malloc(scratchCap);
}

function pushString(L: number, s: string): void {
  const n = s.length;
  if (n < 256) {
    ensureScratch(n * 3);
    const heap = heapU8();
    let i = 0;
    for (; i < n; i++) {
      const c = s.charCodeAt(i);
      if (c > 127) break;
      heap[scratch + i] = c;
    }
    if (i === n) {
      C.lua_pushlstring(L, scratch, n);
      return;
    }
  }
  ensureScratch(n * 3);
  const written = utf8Enc.encodeInto(s, heapU8().subarray(scratch, scratch + scratchCap)).written;
  C.lua_pushlstring(L, scratch, written);
}

function pushBytes(L: number, b: Uint8Array): void {
  ensureScratch(b.length);
  heapU8().set(b, scratch);
  C.lua_pushlstring(L, scratch, b.length);
}

function readString(L: number, idx: number): string {
  const p = C.lua_tolstring(L, idx, lenPtr) as number;
  const len = heapU32()[lenPtr >> 2];
  const heap = heapU8();
  if (len < 64) {
    let s = '';
    for (let i = 0; i < len; i++) {
      const c = heap[p + i];
      if (c > 127) return utf8.decode(heap.subarray(p, p + len));
      s += String.fromCharCode(c);
    }
    return s;
  }
  return utf8.decode(heap.subarray(p, p + len));
}

/** A Lua string as a Buffer (bodies keep their bytes). */
export class LuaBytes {
  constructor(readonly bytes: Buffer) {}
}

function pushValue(L: number, v: unknown): void {
  switch (typeof v) {
    case 'string':
      pushString(L, v);
      return;
    case 'number':
      if (Number.isSafeInteger(v)) C.lua_pushinteger(L, BigInt(v));
      else C.lua_pushnumber(L, v);
      return;
    case 'boolean':
      C.lua_pushboolean(L, v ? 1 : 0);
      return;
    case 'bigint':
      C.lua_pushinteger(L, v);
      return;
    default:
      if (v instanceof LuaBytes) pushBytes(L, v.bytes);
      else if (Buffer.isBuffer(v)) pushBytes(L, v);
      else C.lua_pushnil(L);
  }
}

/** Pushes (tag, value): tag says whether the prelude must wrap the value as a luaTable/luaList. */
function pushTagged(exec: LuaExec, L: number, v: unknown): number {
  if (v !== null && typeof v === 'object' && !(v instanceof LuaBytes) && !Buffer.isBuffer(v)) {
    C.lua_pushinteger(L, BigInt(Array.isArray(v) ? Kind.list : Kind.table));
    C.lua_pushnumber(L, handleOf(exec, v));
    return 2;
  }
  C.lua_pushinteger(L, 0n);
  pushValue(L, v);
  return 2;
}

/** A luaTable/luaList element: a JSON null is krakend-lua's luaNil (tableGet, listGet), not Lua nil. */
function pushElement(exec: LuaExec, L: number, v: unknown): number {
  if (v === null) {
    C.lua_pushinteger(L, BigInt(Kind.nil));
    C.lua_pushnil(L);
    return 2;
  }
  return pushTagged(exec, L, v);
}

const EPOCH_SPAN = 2 ** 24;

function handleOf(exec: LuaExec, v: unknown): number {
  let h = exec.index.get(v);
  if (h === undefined) {
    if (exec.objs.length >= EPOCH_SPAN) throw new Error('too many objects in one execution');
    h = exec.epoch * EPOCH_SPAN + exec.objs.length;
    exec.objs.push(v);
    exec.index.set(v, h);
  }
  return h;
}

function objectOf(exec: LuaExec, h: number): unknown {
  const idx = h - exec.epoch * EPOCH_SPAN;
  if (!(idx >= 0 && idx < exec.objs.length))
    throw new Error('a luaTable/luaList from another request cannot be used');
  return exec.objs[idx];
}

/**
 * How a plain Lua table crosses into JSON. `set` is a luaTable/luaList `set` value: krakend-lua
 * decorator/luatable.go tableSet (and lualist.go listSet) always makes the table a map, with its
 * keys as strings. Inside it, and everywhere else, types.go ParseToTable's rule holds: a table
 * whose keys all read as integers (strconv.Atoi) is a list in key order, an empty one null.
 */
enum TableAs {
  Set,
  Value,
}

/** Converts the Lua value at `idx` into JS: proxies give back their object, tables are copied. */
function readValue(exec: LuaExec, L: number, idx: number, depth = 0, as = TableAs.Value): unknown {
  switch (C.lua_type(L, idx) as number) {
    case T_NIL:
      return undefined;
    case T_BOOLEAN:
      return C.lua_toboolean(L, idx) !== 0;
    case T_NUMBER:
      return C.lua_tonumberx(L, idx, 0) as number;
    case T_STRING:
      return readString(L, idx);
    case T_TABLE:
      return readTable(exec, L, C.lua_absindex(L, idx) as number, depth, as);
    default:
      return undefined;
  }
}

/** strconv.Atoi's syntax: an optional sign and decimal digits. */
const INTEGER_KEY = /^[+-]?\d{1,18}$/;

/** A table key as gopher-lua's LValue.String() writes it (tables and functions are not keys here). */
function keyText(L: number, idx: number): string | undefined {
  switch (C.lua_type(L, idx) as number) {
    case T_STRING:
      return readString(L, idx);
    case T_NUMBER:
      return String(C.lua_tonumberx(L, idx, 0));
    case T_BOOLEAN:
      return C.lua_toboolean(L, idx) !== 0 ? 'true' : 'false';
    default:
      return undefined;
  }
}

function readTable(exec: LuaExec, L: number, idx: number, depth: number, as: TableAs): unknown {
  if (depth > 64) throw new Error('table nesting too deep');
  const mt = C.luaL_getmetafield(L, idx, cstr('__gwkind')) as number;
  if (mt !== T_NIL) {
    const kind = C.lua_tonumberx(L, -1, 0) as number;
    C.lua_settop(L, -2);
    if (kind === Kind.nil) return null;
    C.lua_getfield(L, idx, cstr('h'));
    const h = C.lua_tonumberx(L, -1, 0) as number;
    C.lua_settop(L, -2);
    return objectOf(exec, h);
  }
  const out: Record<string, unknown> = {};
  let count = 0;
  let integerKeys = true;
  C.lua_pushnil(L);
  while (C.lua_next(L, idx) !== 0) {
    const key = keyText(L, -2);
    if (key !== undefined) {
      // ParseToTable sets nothing for a value it has no case for (a function, a coroutine)
      const v = readValue(exec, L, -1, depth + 1);
      if (v !== undefined) {
        out[key] = v;
        count++;
        if (integerKeys && !INTEGER_KEY.test(key)) integerKeys = false;
      }
    }
    C.lua_settop(L, -2);
  }
  if (as === TableAs.Set && depth === 0) return out;
  if (!integerKeys) return out;
  // tryConvertToSlice: the values in integer key order, gaps closed; no keys gives a nil slice
  if (count === 0) return depth === 0 ? out : null;
  return Object.keys(out)
    .sort((a, b) => Number(a) - Number(b))
    .map((k) => out[k]);
}

function raise(L: number, message: string): never {
  pushString(L, message);
  C.lua_error(L);
  throw new Error('unreachable');
}

// ---- the one native function the prelude calls ------------------------------------------

function keyOf(v: unknown): string | undefined {
  if (typeof v === 'string') return v;
  if (typeof v === 'number') return String(v);
  return undefined;
}

function tableOp(exec: LuaExec, L: number, op: number): number {
  const h = C.lua_tonumberx(L, 2, 0) as number;
  const target = objectOf(exec, h);
  if (Array.isArray(target)) {
    const i = Math.trunc(C.lua_tonumberx(L, 3, 0) as number);
    switch (op) {
      case Op.get:
        return pushElement(exec, L, i >= 0 && i < target.length ? target[i] : undefined);
      case Op.set: {
        // lualist.go listSet: a negative index is ignored, a new one grows the list with nulls
        if (i < 0) return 0;
        if (i > 1e7) raise(L, `luaList index out of range: ${i}`);
        const v = readValue(exec, L, 4, 0, TableAs.Set);
        while (target.length <= i) target.push(null);
        if (v !== undefined) target[i] = v;
        return 0;
      }
      case Op.del:
        if (i >= 0 && i < target.length) target.splice(i, 1);
        return 0;
      case Op.len:
        C.lua_pushinteger(L, BigInt(target.length));
        return 1;
      case Op.has:
        C.lua_pushboolean(L, i >= 0 && i < target.length ? 1 : 0);
        return 1;
      case Op.keys:
        return pushTagged(
          exec,
          L,
          target.map((_, k) => k),
        );
    }
    return 0;
  }
  const obj = target as Record<string, unknown>;
  switch (op) {
    case Op.get: {
      const k = keyOf(readValue(exec, L, 3));
      return pushElement(exec, L, k !== undefined && Object.hasOwn(obj, k) ? obj[k] : undefined);
    }
    case Op.set: {
      const k = keyOf(readValue(exec, L, 3));
      if (k === undefined) raise(L, 'luaTable keys must be strings');
      // luatable.go tableSet: nil (or a function) sets nothing; luaNil.new() sets null
      const v = readValue(exec, L, 4, 0, TableAs.Set);
      if (v !== undefined) obj[k] = v;
      return 0;
    }
    case Op.del: {
      const k = keyOf(readValue(exec, L, 3));
      if (k !== undefined) delete obj[k];
      return 0;
    }
    case Op.len:
      C.lua_pushinteger(L, BigInt(Object.keys(obj).length));
      return 1;
    case Op.has: {
      const k = keyOf(readValue(exec, L, 3));
      C.lua_pushboolean(L, k !== undefined && Object.hasOwn(obj, k) ? 1 : 0);
      return 1;
    }
    case Op.keys:
      return pushTagged(exec, L, Object.keys(obj).sort());
  }
  return 0;
}

function viewArgs(exec: LuaExec, L: number): unknown[] {
  const n = C.lua_tonumberx(L, 2, 0) as number;
  const args: unknown[] = new Array(n);
  for (let i = 0; i < n; i++) args[i] = readValue(exec, L, 3 + i);
  return args;
}

function native(L: number): number {
  const exec = currentExec;
  if (!exec) return raise(L, 'gw: no request in progress');
  const op = C.lua_tonumberx(L, 1, 0) as number;
  let result: unknown;
  try {
    switch (op) {
      case Op.get:
      case Op.set:
      case Op.del:
      case Op.len:
      case Op.keys:
      case Op.has:
        return tableOp(exec, L, op);
      case Op.newTable:
        return pushTagged(exec, L, {});
      case Op.newList:
        return pushTagged(exec, L, []);
      case Op.ctxLoad:
      case Op.requestLoad: {
        const want = op === Op.ctxLoad ? 'ctx' : 'request';
        if (!exec.req || exec.reqLoader !== want)
          return raise(L, `${want}.load() is not available in this namespace`);
        return 0;
      }
      case Op.responseLoad:
        if (!exec.resp) return raise(L, 'response.load() is only available in post scripts');
        return 0;
      case Op.httpStart:
        return httpStart(exec, L);
      case Op.httpStatus:
      case Op.httpHeaders:
      case Op.httpHeaderList:
      case Op.httpBody:
        return httpOp(exec, L, op);
      case Op.jsonMarshal: {
        const v = readValue(exec, L, 2);
        pushString(L, JSON.stringify(v === undefined ? null : v));
        return 1;
      }
      case Op.jsonUnmarshal: {
        const s = readValue(exec, L, 2);
        let parsed: unknown;
        try {
          parsed = JSON.parse(typeof s === 'string' ? s : '');
        } catch (err) {
          return raise(L, `json.unmarshal: ${(err as Error).message}`);
        }
        return pushTagged(exec, L, parsed);
      }
      case Op.print:
        process.stdout.write(`${readValue(exec, L, 2)}\n`);
        return 0;
      default: {
        const view = op >= Op.responseLoad ? exec.resp : exec.req;
        if (!view) return raise(L, 'object not available here');
        result = view.call(op, viewArgs(exec, L));
      }
    }
  } catch (err) {
    // lua_error unwinds with a thrown number (emscripten longjmp): let it through untouched.
    if (typeof err === 'number') throw err;
    return raise(L, (err as Error).message);
  }
  return result === undefined ? 0 : pushTagged(exec, L, result);
}

function httpStart(exec: LuaExec, L: number): number {
  if (!exec.fetch) return raise(L, 'http_response is not available here');
  const url = readValue(exec, L, 2);
  if (typeof url !== 'string') return raise(L, 'http_response.new: url must be a string');
  const method = readValue(exec, L, 3);
  const body = readValue(exec, L, 4);
  const headersIn = readValue(exec, L, 5);
  const headers: Record<string, string> = {};
  if (headersIn && typeof headersIn === 'object') {
    for (const [k, v] of Object.entries(headersIn as Record<string, unknown>)) headers[k] = String(v);
  }
  const id = exec.pending.length;
  exec.pending.push(
    exec.fetch(
      url,
      typeof method === 'string' ? method.toUpperCase() : 'GET',
      typeof body === 'string' ? body : undefined,
      headers,
    ),
  );
  C.lua_pushinteger(L, BigInt(id));
  return 1;
}

function httpOp(exec: LuaExec, L: number, op: number): number {
  const res = objectOf(exec, C.lua_tonumberx(L, 2, 0) as number) as HttpResult;
  switch (op) {
    case Op.httpStatus:
      C.lua_pushinteger(L, BigInt(res.status));
      return 1;
    case Op.httpHeaders: {
      const name = readValue(exec, L, 3);
      pushString(L, typeof name === 'string' ? (res.headers[name.toLowerCase()]?.[0] ?? '') : '');
      return 1;
    }
    case Op.httpHeaderList: {
      const name = readValue(exec, L, 3);
      return pushTagged(
        exec,
        L,
        typeof name === 'string' ? [...(res.headers[name.toLowerCase()] ?? [])] : [],
      );
    }
    default:
      pushBytes(L, res.body);
      return 1;
  }
}

// ---- states and execution ----------------------------------------------------------------

export interface LuaChunk {
  /** Name used in error messages (`file.lua`, `pre`). */
  name: string;
  code: string;
}

/** A Lua state with the prelude, the sources and the compiled pre/post functions. */
export class LuaState {
  readonly L: number;
  private readonly id: number;
  readonly refs: Record<string, number> = {};
  private gcRef = 0;
  private spareThread: [number, number] | undefined;
  closed = false;

  constructor(
    sources: LuaChunk[],
    entries: LuaChunk[],
    openLibs: boolean,
    private readonly limits: LuaLimits,
  ) {
    if (!M) throw new Error('the Lua VM is not loaded yet');
    this.id = stateIds++;
    memory.set(this.id, { used: 0, max: limits.maxMemory });
    this.L = C.lua_newstate(allocPtr, this.id) as number;
    if (!this.L) throw new Error('cannot create a Lua state');
    try {
      const L = this.L;
      C.luaL_openlibs(L);
      if (!openLibs) {
        for (const name of ['io', 'os', 'debug', 'package', 'dofile', 'loadfile', 'require']) {
          C.lua_pushnil(L);
          C.lua_setglobal(L, cstr(name));
        }
      }
      C.lua_pushcclosure(L, nativePtr, 0);
      C.lua_setglobal(L, cstr('__gw_native'));
      C.lua_getglobal(L, cstr('collectgarbage'));
      this.gcRef = C.luaL_ref(L, LUA_REGISTRYINDEX) as number;
      C.lua_sethook(L, hookPtr, LUA_MASKCOUNT, HOOK_STEP);
      this.runChunk({ name: 'gw-prelude', code: PRELUDE });
      for (const src of sources) this.runChunk(src);
      for (const e of entries) this.refs[e.name] = this.compile(e);
    } catch (err) {
      this.close();
      throw err;
    }
  }

  private load(chunk: LuaChunk): void {
    const bytes = utf8Enc.encode(chunk.code);
    const buf = C.malloc(bytes.length + 1) as number;
    heapU8().set(bytes, buf);
    const status = C.luaL_loadbufferx(
      this.L,
      buf,
      bytes.length,
      cstr(chunk.name.startsWith('=') || chunk.name.startsWith('@') ? chunk.name : `@${chunk.name}`),
      0,
    ) as number;
    C.free(buf);
    if (status !== LUA_OK) {
      const msg = readString(this.L, -1);
      C.lua_settop(this.L, -2);
      throw new LuaScriptError(msg, false);
    }
  }

  private compile(chunk: LuaChunk): number {
    this.load(chunk);
    return C.luaL_ref(this.L, LUA_REGISTRYINDEX) as number;
  }

  private runChunk(chunk: LuaChunk): void {
    this.load(chunk);
    const ref = C.luaL_ref(this.L, LUA_REGISTRYINDEX) as number;
    const out = this.run(ref, new LuaExec());
    C.luaL_unref(this.L, LUA_REGISTRYINDEX, ref);
    if (out instanceof Promise)
      throw new LuaScriptError(`${chunk.name}: http_response cannot run while loading`, false);
  }

  /** A full collection, after a script hit the memory cap (its garbage is still counted). */
  collectGarbage(): void {
    C.lua_rawgeti(this.L, LUA_REGISTRYINDEX, BigInt(this.gcRef));
    if ((C.lua_pcallk(this.L, 0, 0, 0, 0, 0) as number) !== LUA_OK) C.lua_settop(this.L, -2);
  }

  memoryUsed(): number {
    return memory.get(this.id)?.used ?? 0;
  }

  /**
   * Runs a compiled function on a fresh coroutine. Synchronous unless the script waits for an
   * http_response, in which case a Promise is returned. Throws LuaCustomError/LuaScriptError.
   */
  run(ref: number, exec: LuaExec): void | Promise<void> {
    const L = this.L;
    // A coroutine that returned normally is reused (creating one costs several allocations).
    let T: number;
    let threadRef: number;
    if (this.spareThread) {
      [T, threadRef] = this.spareThread;
      this.spareThread = undefined;
    } else {
      T = C.lua_newthread(L) as number;
      threadRef = C.luaL_ref(L, LUA_REGISTRYINDEX) as number;
    }
    exec.epoch = epochCounter++ % 2 ** 28;
    C.lua_rawgeti(T, LUA_REGISTRYINDEX, BigInt(ref));
    hookTicks = 0;
    hookBudget = Math.ceil(this.limits.maxInstructions / HOOK_STEP);
    hookMillis = this.limits.maxMillis;
    const step = (nargs: number): void | Promise<void> => {
      hookDeadline = Date.now() + this.limits.maxMillis;
      const prev = currentExec;
      currentExec = exec;
      let status: number;
      try {
        status = C.lua_resume(T, L, nargs, nresPtr) as number;
      } finally {
        currentExec = prev;
      }
      if (status === LUA_OK) {
        C.lua_settop(T, 0);
        if (this.spareThread) C.luaL_unref(L, LUA_REGISTRYINDEX, threadRef);
        else this.spareThread = [T, threadRef];
        return;
      }
      if (status === LUA_YIELD) {
        const nres = heapI32()[nresPtr >> 2];
        const token = nres === 2 && C.lua_type(T, -2) === T_STRING ? readString(T, -2) : undefined;
        const id = token === HTTP_YIELD ? (C.lua_tonumberx(T, -1, 0) as number) : -1;
        C.lua_settop(T, 0);
        const pending = exec.pending[id];
        if (!pending) {
          C.luaL_unref(L, LUA_REGISTRYINDEX, threadRef);
          throw new LuaScriptError('coroutine.yield outside of a coroutine', false);
        }
        exec.pending[id] = undefined;
        return pending.then(
          (res) => {
            C.lua_pushboolean(T, 1);
            C.lua_pushnumber(T, handleOf(exec, res));
            return step(2);
          },
          (err: Error) => {
            C.lua_pushboolean(T, 0);
            pushString(T, `http_response: ${err.message}`);
            return step(2);
          },
        );
      }
      const error = this.readError(T, exec);
      C.luaL_unref(L, LUA_REGISTRYINDEX, threadRef);
      throw error;
    };
    return step(0);
  }

  private readError(T: number, exec: LuaExec): Error {
    if (C.lua_type(T, -1) === T_TABLE && (C.luaL_getmetafield(T, -1, cstr('__gwkind')) as number) !== T_NIL) {
      const kind = C.lua_tonumberx(T, -1, 0) as number;
      C.lua_settop(T, -2);
      if (kind === Kind.customError) {
        const fields: Record<string, unknown> = {};
        for (const f of ['m', 'c', 't']) {
          C.lua_getfield(T, -1, cstr(f));
          fields[f] = readValue(exec, T, -1);
          C.lua_settop(T, -2);
        }
        const code =
          typeof fields.c === 'number' && fields.c >= 100 && fields.c <= 999 ? Math.trunc(fields.c) : 500;
        return new LuaCustomError(
          String(fields.m ?? ''),
          code,
          typeof fields.t === 'string' ? fields.t : undefined,
        );
      }
    }
    const t = C.lua_type(T, -1) as number;
    const msg = t === T_STRING || t === T_NUMBER ? readString(T, -1) : '(error object is not a string)';
    if (msg === 'not enough memory') {
      C.lua_settop(T, 0);
      this.collectGarbage();
      return new LuaScriptError(`${msg} (memory limit ${this.limits.maxMemory} bytes)`, true);
    }
    return new LuaScriptError(msg, exec.runaway);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.L) C.lua_close(this.L);
    memory.delete(this.id);
  }
}

export type { LuaWasm };
