// RFC 8259 reader over bytes. The whole input is always validated (grammar, escapes, numbers,
// nesting bound); values nobody looks into are only skipped and become RAW spans. Input buffers
// carry at least 16 zero bytes after their end: a 0 byte is invalid everywhere in JSON, so the
// scanners stop on it without bounds checks and only then ask whether the input really ended.

import { ERR_DEPTH, ERR_FALLBACK, ERR_SHAPE, ERR_SYNTAX, alloc, fail, failure } from './memory';
import {
  K_ARR,
  K_OBJ,
  K_RAW,
  NOT_INDEX,
  RAW_HAS_WS,
  appendItem,
  appendMember,
  linkMember,
  setKey,
  arrayIndexOf,
  fieldA,
  fieldB,
  findMember,
  keyHashOf,
  keyIndex,
  keysEqual,
  kindOf,
  newKey,
  newValue,
  setMemberValue,
  setValue,
} from './nodes';

/** Deepest nesting of objects/arrays accepted (the root container is level 1). */
export const MAX_DEPTH: i32 = 512;

const STACK: usize = memory.data(MAX_DEPTH + 8);


/** Set by scanString: the string had at least one escape. */
let sawEscape: bool = false;
/** Set while skipping: whitespace between tokens (the span is minified on output). */
let sawWs: bool = false;
/** Where the last document ended (start of trailing bytes). */
let inputEnd: usize = 0;

// @ts-ignore: decorator
@inline function isWs(c: u32): bool {
  return c == 0x20 || c == 0x0a || c == 0x0d || c == 0x09;
}

// @ts-ignore: decorator
@inline function skipWs(p: usize): usize {
  let c = <u32>load<u8>(p);
  if (c > 0x20) return p;
  while (isWs(c)) {
    sawWs = true;
    p++;
    c = <u32>load<u8>(p);
  }
  return p;
}

// @ts-ignore: decorator
@inline function isHex(c: u32): bool {
  return c - 0x30 < 10 || (c | 0x20) - 0x61 < 6;
}

// @ts-ignore: decorator
@inline function isCont(c: u32): bool {
  return (c & 0xc0) == 0x80;
}

/** Length of the valid UTF-8 sequence at p, or 0 (what WHATWG's decoder would replace). */
function utf8Length(p: usize): usize {
  const c = <u32>load<u8>(p);
  const c1 = <u32>load<u8>(p, 1);
  if (c >= 0xc2 && c <= 0xdf) return isCont(c1) ? 2 : 0;
  const c2 = <u32>load<u8>(p, 2);
  if (c >= 0xe0 && c <= 0xef) {
    if (c == 0xe0 && c1 < 0xa0) return 0;
    if (c == 0xed && c1 > 0x9f) return 0;
    return isCont(c1) && isCont(c2) ? 3 : 0;
  }
  if (c >= 0xf0 && c <= 0xf4) {
    if (c == 0xf0 && c1 < 0x90) return 0;
    if (c == 0xf4 && c1 > 0x8f) return 0;
    return isCont(c1) && isCont(c2) && isCont(<u32>load<u8>(p, 3)) ? 4 : 0;
  }
  return 0;
}

/** p at the opening quote; returns the position after the closing quote, or 0. */
function scanString(p: usize): usize {
  p++;
  const quote = i8x16.splat(0x22);
  const backslash = i8x16.splat(0x5c);
  const space = i8x16.splat(0x20);
  while (true) {
    // 16 bytes at a time: find the first quote, backslash, control byte or non-ASCII byte.
    // Inputs carry 16 zero bytes after their end, and a zero byte stops the scan.
    const v = v128.load(p);
    const special = v128.or(
      v128.or(i8x16.eq(v, quote), i8x16.eq(v, backslash)),
      v128.or(i8x16.lt_u(v, space), i8x16.lt_s(v, i8x16.splat(0))),
    );
    const mask = i8x16.bitmask(special);
    if (mask == 0) {
      p += 16;
      continue;
    }
    p += <usize>ctz(mask);
    const c = <u32>load<u8>(p);
    if (c == 0x22) return p + 1;
    if (c == 0x5c) {
      sawEscape = true;
      const e = <u32>load<u8>(p, 1);
      if (e == 0x75) {
        if (!(isHex(load<u8>(p, 2)) && isHex(load<u8>(p, 3)) && isHex(load<u8>(p, 4)) && isHex(load<u8>(p, 5)))) {
          fail(ERR_SYNTAX, p);
          return 0;
        }
        p += 6;
      } else if (e == 0x22 || e == 0x5c || e == 0x2f || e == 0x62 || e == 0x66 || e == 0x6e || e == 0x72 || e == 0x74) {
        p += 2;
      } else {
        fail(ERR_SYNTAX, p);
        return 0;
      }
    } else if (c < 0x20) {
      fail(ERR_SYNTAX, p);
      return 0;
    } else {
      const n = utf8Length(p);
      if (n == 0) {
        // Valid JSON, but JS would see U+FFFD here: let the JS path answer this request exactly.
        fail(ERR_FALLBACK, p);
        p++;
      } else {
        p += n;
      }
    }
  }
}

// @ts-ignore: decorator
@inline function isDigit(c: u32): bool {
  return c - 0x30 < 10;
}

/** p at '-' or a digit; returns the position after the number, or 0. */
function scanNumber(p: usize): usize {
  let c = <u32>load<u8>(p);
  if (c == 0x2d) {
    p++;
    c = <u32>load<u8>(p);
  }
  if (c == 0x30) {
    p++;
  } else if (c - 0x31 < 9) {
    p++;
    while (isDigit(load<u8>(p))) p++;
  } else {
    fail(ERR_SYNTAX, p);
    return 0;
  }
  c = <u32>load<u8>(p);
  if (c == 0x2e) {
    p++;
    if (!isDigit(load<u8>(p))) {
      fail(ERR_SYNTAX, p);
      return 0;
    }
    while (isDigit(load<u8>(p))) p++;
    c = <u32>load<u8>(p);
  }
  if ((c | 0x20) == 0x65) {
    p++;
    c = <u32>load<u8>(p);
    if (c == 0x2b || c == 0x2d) p++;
    if (!isDigit(load<u8>(p))) {
      fail(ERR_SYNTAX, p);
      return 0;
    }
    while (isDigit(load<u8>(p))) p++;
  }
  return p;
}

/** A scalar at p (not '{' or '['): returns the position after it, or 0. */
// @ts-ignore: decorator
@inline function scanScalar(p: usize, c: u32): usize {
  if (c == 0x22) return scanString(p);
  if (c == 0x2d || isDigit(c)) return scanNumber(p);
  const w = load<u32>(p);
  if (w == 0x65757274) return p + 4; // true
  if (w == 0x6c6c756e) return p + 4; // null
  if (w == 0x736c6166 && load<u8>(p, 4) == 0x65) return p + 5; // false
  fail(ERR_SYNTAX, p);
  return 0;
}

/**
 * Validates one value starting at p (no leading whitespace) without building anything.
 * `depth` is the nesting level of the container holding it. Returns the end, or 0.
 */
function skipValue(p: usize, depth: i32): usize {
  let d: i32 = 0; // open containers inside this value; STACK[d] = 1 for object, 0 for array
  while (true) {
    // A value starts at p.
    let c = <u32>load<u8>(p);
    if (c == 0x7b || c == 0x5b) {
      if (depth + d + 1 > MAX_DEPTH) {
        fail(ERR_DEPTH, p);
        return 0;
      }
      p = skipWs(p + 1);
      const close = c + 2;
      if (<u32>load<u8>(p) == close) {
        p++;
      } else {
        d++;
        const isObject = c == 0x7b;
        store<u8>(STACK + d, isObject ? 1 : 0);
        if (isObject) {
          if (load<u8>(p) != 0x22) {
            fail(ERR_SYNTAX, p);
            return 0;
          }
          p = scanString(p);
          if (p == 0) return 0;
          p = skipWs(p);
          if (load<u8>(p) != 0x3a) {
            fail(ERR_SYNTAX, p);
            return 0;
          }
          p = skipWs(p + 1);
        }
        continue;
      }
    } else {
      p = scanScalar(p, c);
      if (p == 0) return 0;
    }
    // After a value: close containers or move to the next element.
    while (true) {
      if (d == 0) return p;
      p = skipWs(p);
      c = <u32>load<u8>(p);
      const inObject = load<u8>(STACK + d) == 1;
      if (c == 0x2c) {
        p = skipWs(p + 1);
        if (inObject) {
          if (load<u8>(p) != 0x22) {
            fail(ERR_SYNTAX, p);
            return 0;
          }
          p = scanString(p);
          if (p == 0) return 0;
          p = skipWs(p);
          if (load<u8>(p) != 0x3a) {
            fail(ERR_SYNTAX, p);
            return 0;
          }
          p = skipWs(p + 1);
        }
        break;
      }
      if (c == (inObject ? 0x7d : 0x5d)) {
        p++;
        d--;
        continue;
      }
      fail(ERR_SYNTAX, p);
      return 0;
    }
  }
}

/** Writes the WTF-8 bytes of code point cp at out; returns the new end. */
function putCodePoint(out: usize, cp: u32): usize {
  if (cp < 0x80) {
    store<u8>(out, <u8>cp);
    return out + 1;
  }
  if (cp < 0x800) {
    store<u8>(out, <u8>(0xc0 | (cp >> 6)));
    store<u8>(out, <u8>(0x80 | (cp & 0x3f)), 1);
    return out + 2;
  }
  if (cp < 0x10000) {
    store<u8>(out, <u8>(0xe0 | (cp >> 12)));
    store<u8>(out, <u8>(0x80 | ((cp >> 6) & 0x3f)), 1);
    store<u8>(out, <u8>(0x80 | (cp & 0x3f)), 2);
    return out + 3;
  }
  store<u8>(out, <u8>(0xf0 | (cp >> 18)));
  store<u8>(out, <u8>(0x80 | ((cp >> 12) & 0x3f)), 1);
  store<u8>(out, <u8>(0x80 | ((cp >> 6) & 0x3f)), 2);
  store<u8>(out, <u8>(0x80 | (cp & 0x3f)), 3);
  return out + 4;
}

function hex4(p: usize): u32 {
  let v: u32 = 0;
  for (let i: usize = 0; i < 4; i++) {
    const c = <u32>load<u8>(p + i);
    v = (v << 4) | (c <= 0x39 ? c - 0x30 : (c | 0x20) - 0x57);
  }
  return v;
}

/** Unescapes a validated string body [p, end) into the arena; returns the decoded length via lastLen. */
let lastLen: usize = 0;
function unescape(p: usize, end: usize): usize {
  const out = alloc(end - p + 4); // +4: keyHashOf may read a word past a short key
  let o = out;
  while (p < end) {
    const c = <u32>load<u8>(p);
    if (c != 0x5c) {
      store<u8>(o++, <u8>c);
      p++;
      continue;
    }
    const e = <u32>load<u8>(p, 1);
    p += 2;
    if (e == 0x75) {
      let cp = hex4(p);
      p += 4;
      // A high surrogate followed by an escaped low one is one code point, as JS strings see it.
      if (cp >= 0xd800 && cp <= 0xdbff && p + 6 <= end && load<u8>(p) == 0x5c && load<u8>(p, 1) == 0x75) {
        const lo = hex4(p + 2);
        if (lo >= 0xdc00 && lo <= 0xdfff) {
          cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
          p += 6;
        }
      }
      o = putCodePoint(o, cp);
    } else {
      let b: u32 = e;
      if (e == 0x62) b = 8;
      else if (e == 0x66) b = 12;
      else if (e == 0x6e) b = 10;
      else if (e == 0x72) b = 13;
      else if (e == 0x74) b = 9;
      store<u8>(o++, <u8>b);
    }
  }
  lastLen = o - out;
  return out;
}

// "__proto__": JS objects treat this key specially on assignment.
const PROTO: usize = memory.data<u8>([0x5f, 0x5f, 0x70, 0x72, 0x6f, 0x74, 0x6f, 0x5f, 0x5f]);

/** p at the opening quote of a key; fills the key record at k (position after it in keyEnd). */
let keyEnd: usize = 0;
function readKey(p: usize, k: usize): bool {
  sawEscape = false;
  const end = scanString(p);
  if (end == 0) return false;
  keyEnd = end;
  const rawPtr = p + 1;
  const rawLen = end - 1 - rawPtr;
  let cmpPtr = rawPtr;
  let cmpLen = rawLen;
  if (sawEscape) {
    cmpPtr = unescape(rawPtr, end - 1);
    cmpLen = lastLen;
  }
  if (cmpLen == 9 && memory.compare(cmpPtr, PROTO, 9) == 0) fail(ERR_FALLBACK, p);
  const index = <u32>load<u8>(cmpPtr) - 0x30 < 10 && cmpLen != 0 ? arrayIndexOf(cmpPtr, cmpLen) : NOT_INDEX;
  setKey(k, rawPtr, rawLen, cmpPtr, cmpLen, keyHashOf(cmpPtr, cmpLen), index);
  return true;
}

/** A RAW value for the value at p; advances to its end (in rawEnd). */
let rawEnd: usize = 0;
function readRaw(p: usize, depth: i32): usize {
  const c = <u32>load<u8>(p);
  if (c != 0x7b && c != 0x5b) {
    const e = scanScalar(p, c);
    if (e == 0) return 0;
    rawEnd = e;
    return newValue(K_RAW, p, e, 0);
  }
  sawWs = false;
  const end = skipValue(p, depth);
  if (end == 0) return 0;
  rawEnd = end;
  return newValue(K_RAW, p, end, sawWs ? RAW_HAS_WS : 0);
}

/**
 * Parses the object at p ('{') one level deep into `into` (an OBJ node): members are RAW values.
 * Duplicate keys behave as in JSON.parse: the last value wins, the first position stays.
 */
/**
 * The shape to open while reading (compiled from the paths the program will walk): a node is
 * [count, (key or WILDCARD, child node)…]; a member whose entry matches is read materialized
 * with the child node, the others stay RAW. Nodes with a WILDCARD have no other entry.
 */
// @ts-ignore: decorator
@inline const SHAPE_WILDCARD: usize = 1;

// @ts-ignore: decorator
@inline function shapeChild(shape: usize, key: usize): usize {
  if (shape == 0) return 0;
  const n = load<i32>(shape);
  if (n == 0) return 0;
  if (load<usize>(shape, 4) == SHAPE_WILDCARD) return load<usize>(shape, 8);
  return shapeNamedChild(shape, n, key);
}

function shapeNamedChild(shape: usize, n: i32, key: usize): usize {
  for (let i = 0; i < n; i++) {
    const e = shape + 4 + (<usize>i << 3);
    if (keysEqual(load<usize>(e), key)) return load<usize>(e, 4);
  }
  return 0;
}

function shapeIndexChild(shape: usize, index: u32): usize {
  if (shape == 0) return 0;
  const n = load<i32>(shape);
  for (let i = 0; i < n; i++) {
    const e = shape + 4 + (<usize>i << 3);
    const k = load<usize>(e);
    if (k == SHAPE_WILDCARD || keyIndex(k) == index) return load<usize>(e, 4);
  }
  return 0;
}

/** Reads the value at p: materialized when `shape` asks for it and it is a container, else RAW. */
function readValue(p: usize, depth: i32, shape: usize): usize {
  if (shape != 0) {
    const c = load<u8>(p);
    if (c == 0x7b) {
      const v = newValue(K_OBJ, 0, 0, 0);
      rawEnd = readObject(p, depth, v, shape);
      return rawEnd == 0 ? 0 : v;
    }
    if (c == 0x5b) {
      const v = newValue(K_ARR, 0, 0, 0);
      rawEnd = readArray(p, depth, v, shape);
      return rawEnd == 0 ? 0 : v;
    }
  }
  return readRaw(p, depth);
}

export function readObject(p: usize, depth: i32, into: usize, shape: usize): usize {
  if (depth + 1 > MAX_DEPTH) {
    fail(ERR_DEPTH, p);
    return 0;
  }
  setValue(into, K_OBJ, 0, 0, 0);
  p = skipWs(p + 1);
  if (load<u8>(p) == 0x7d) return p + 1;
  // 64 one-bit buckets of key hashes: a key is looked up among earlier ones only on a hit.
  let seen: u64 = 0;
  while (true) {
    if (load<u8>(p) != 0x22) {
      fail(ERR_SYNTAX, p);
      return 0;
    }
    // member (12 B), its key (24 B) and, for a string, its value (20 B) in one block
    const m = alloc(56);
    const key = m + 12;
    if (!readKey(p, key)) return 0;
    p = skipWs(keyEnd);
    if (load<u8>(p) != 0x3a) {
      fail(ERR_SYNTAX, p);
      return 0;
    }
    p = skipWs(p + 1);
    let value: usize;
    const vc = <u32>load<u8>(p);
    if (vc != 0x7b && vc != 0x5b) {
      // scalars, the most common values, skip the general reader
      const e = scanScalar(p, vc);
      if (e == 0) return 0;
      value = m + 36;
      setValue(value, K_RAW, p, e, 0);
      rawEnd = e;
    } else {
      value = readValue(p, depth + 1, shapeChild(shape, key));
      if (value == 0) return 0;
    }
    p = skipWs(rawEnd);
    store<usize>(m, 0);
    store<usize>(m, key, 4);
    store<usize>(m, value, 8);
    const bit: u64 = (<u64>1) << (load<u32>(key, 16) >> 26);
    if ((seen & bit) != 0) {
      const existing = findMember(into, key);
      if (existing != 0) setMemberValue(existing, value);
      else linkMember(into, m);
    } else {
      linkMember(into, m);
    }
    seen |= bit;
    const c = load<u8>(p);
    if (c == 0x2c) {
      p = skipWs(p + 1);
      continue;
    }
    if (c == 0x7d) return p + 1;
    fail(ERR_SYNTAX, p);
    return 0;
  }
}

export function readArray(p: usize, depth: i32, into: usize, shape: usize): usize {
  if (depth + 1 > MAX_DEPTH) {
    fail(ERR_DEPTH, p);
    return 0;
  }
  setValue(into, K_ARR, 0, 0, 0);
  p = skipWs(p + 1);
  if (load<u8>(p) == 0x5d) return p + 1;
  let index: u32 = 0;
  while (true) {
    let value: usize;
    if (load<u8>(p) == 0x22) {
      const e = scanString(p);
      if (e == 0) return 0;
      value = newValue(K_RAW, p, e, 0);
      rawEnd = e;
      index++;
    } else {
      value = readValue(p, depth + 1, shapeIndexChild(shape, index++));
      if (value == 0) return 0;
    }
    appendItem(into, value);
    p = skipWs(rawEnd);
    const c = load<u8>(p);
    if (c == 0x2c) {
      p = skipWs(p + 1);
      continue;
    }
    if (c == 0x5d) return p + 1;
    fail(ERR_SYNTAX, p);
    return 0;
  }
}

// @ts-ignore: decorator
@inline export const ROOT_OBJECT: i32 = 1;
// @ts-ignore: decorator
@inline export const ROOT_ARRAY: i32 = 2;
// @ts-ignore: decorator
@inline export const ROOT_ANY: i32 = 3;

/**
 * Parses a whole document [start, end) (zero bytes after end). The root must be of the kind in
 * `accept` (ROOT_OBJECT / ROOT_ARRAY), else ERR_SHAPE. An object root is materialized one level;
 * an array root only when `materializeArray`. Returns the root value or 0 (see `failure`).
 */
export function readDocument(start: usize, end: usize, accept: i32, shape: usize): usize {
  let p = skipWs(start);
  const c = <u32>load<u8>(p);
  let root: usize = 0;
  if (c == 0x7b && (accept & ROOT_OBJECT) != 0) {
    root = newValue(K_OBJ, 0, 0, 0);
    p = readObject(p, 0, root, shape);
  } else if (c == 0x5b && (accept & ROOT_ARRAY) != 0 && shape != 0) {
    root = newValue(K_ARR, 0, 0, 0);
    p = readArray(p, 0, root, shape);
  } else {
    root = readRaw(p, 0);
    p = root == 0 ? 0 : rawEnd;
  }
  if (p == 0) return 0;
  p = skipWs(p);
  if (p != end) {
    fail(ERR_SYNTAX, p);
    return 0;
  }
  if (failure != 0 && failure != ERR_FALLBACK) return 0;
  const kind = kindOf(root);
  const isObject = kind == K_OBJ || (kind == K_RAW && load<u8>(fieldA(root)) == 0x7b);
  const isArray = kind == K_ARR || (kind == K_RAW && load<u8>(fieldA(root)) == 0x5b);
  if (!((isObject && (accept & ROOT_OBJECT) != 0) || (isArray && (accept & ROOT_ARRAY) != 0))) {
    fail(ERR_SHAPE, start);
    return 0;
  }
  inputEnd = end;
  return root;
}

/** True when v is (or, once materialized, will be) an object. */
export function isObjectValue(v: usize): bool {
  const k = kindOf(v);
  return k == K_OBJ || (k == K_RAW && load<u8>(fieldA(v)) == 0x7b);
}

export function isArrayValue(v: usize): bool {
  const k = kindOf(v);
  return k == K_ARR || (k == K_RAW && load<u8>(fieldA(v)) == 0x5b);
}

/**
 * Opens a RAW object or array one level, in place (everyone holding the node sees the result).
 * The bytes were validated when the document was read, so this cannot fail on syntax.
 */
export function materialize(v: usize): void {
  if (kindOf(v) != K_RAW) return;
  const p = fieldA(v);
  const c = load<u8>(p);
  if (c == 0x7b) readObject(p, 0, v, 0);
  else if (c == 0x5b) readArray(p, 0, v, 0);
}

export function rawFirstByte(v: usize): u32 {
  return <u32>load<u8>(fieldA(v));
}

export function rawLength(v: usize): usize {
  return fieldB(v) - fieldA(v);
}

export { NOT_INDEX };
