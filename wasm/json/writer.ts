// Writes a value tree as compact JSON at the top of the arena. RAW spans are copied as they came
// (numbers and string escapes byte-exact), minus the whitespace between tokens.

import { ERR_NOMEM, arenaPosition, fail, reserveAtTop, setArenaTop } from './memory';
import {
  K_ARR,
  K_OBJ,
  K_RAW,
  RAW_HAS_WS,
  fieldA,
  fieldB,
  fieldC,
  itemNext,
  itemValue,
  keyRawLen,
  keyRawPtr,
  kindOf,
  memberKey,
  memberNext,
  memberValue,
} from './nodes';

let outStart: usize = 0;
let out: usize = 0;
let outCap: usize = 0;

// @ts-ignore: decorator
@inline function ensure(n: usize): bool {
  if (out + n <= outCap) return true;
  return ensureSlow(n);
}

function ensureSlow(n: usize): bool {
  let want = (outCap - outStart) * 2;
  if (want < out - outStart + n) want = out - outStart + n + 4096;
  if (!reserveAtTop(outStart, want)) {
    fail(ERR_NOMEM, 0);
    return false;
  }
  outCap = outStart + want;
  return true;
}

/**
 * Copies n bytes. Short spans (keys, numbers, short strings: most of them) move as one or two
 * 16-byte vectors instead of a memory.copy call; this may write up to 16 bytes past dst + n (the
 * caller reserved them) and read past src + n (inputs and plans carry 16 bytes of padding).
 */
// @ts-ignore: decorator
@inline function copyBytes(dst: usize, src: usize, n: usize): void {
  if (n <= 16) {
    v128.store(dst, v128.load(src));
  } else if (n <= 32) {
    const a = v128.load(src);
    const b = v128.load(src + n - 16);
    v128.store(dst, a);
    v128.store(dst + n - 16, b);
  } else {
    memory.copy(dst, src, n);
  }
}

// @ts-ignore: decorator
@inline function putByte(b: u8): void {
  if (ensure(1)) store<u8>(out++, b);
}

function minifyCopy(p: usize, end: usize): void {
  if (!ensure(end - p)) return;
  let o = out;
  while (p < end) {
    const c = load<u8>(p);
    if (c == 0x22) {
      // copy the string verbatim
      store<u8>(o++, c);
      p++;
      while (true) {
        const s = load<u8>(p);
        if (s == 0x5c) {
          store<u16>(o, load<u16>(p));
          o += 2;
          p += 2;
          continue;
        }
        store<u8>(o++, s);
        p++;
        if (s == 0x22) break;
      }
      continue;
    }
    if (c != 0x20 && c != 0x0a && c != 0x0d && c != 0x09) store<u8>(o++, c);
    p++;
  }
  out = o;
}

/** Writes a RAW span: copied as is, or minified when it had whitespace between tokens. */
// @ts-ignore: decorator
@inline function writeRaw(v: usize): void {
  const start = fieldA(v);
  const end = fieldB(v);
  if ((fieldC(v) & RAW_HAS_WS) != 0) {
    minifyCopy(start, end);
  } else {
    const n = end - start;
    if (!ensure(n + 16)) return;
    copyBytes(out, start, n);
    out += n;
  }
}

function writeValue(v: usize): void {
  const kind = kindOf(v);
  if (kind == K_OBJ) {
    putByte(0x7b);
    let m = fieldA(v);
    let first = true;
    while (m != 0) {
      const key = memberKey(m);
      const n = keyRawLen(key);
      if (!ensure(n + 20)) return;
      if (!first) store<u8>(out++, 0x2c);
      first = false;
      store<u8>(out++, 0x22);
      copyBytes(out, keyRawPtr(key), n);
      out += n;
      store<u16>(out, 0x3a22); // '":'
      out += 2;
      const value = memberValue(m);
      if (kindOf(value) == K_RAW) writeRaw(value);
      else writeValue(value);
      m = memberNext(m);
    }
    putByte(0x7d);
  } else if (kind == K_ARR) {
    putByte(0x5b);
    let it = fieldA(v);
    let first = true;
    while (it != 0) {
      if (!first) putByte(0x2c);
      first = false;
      const value = itemValue(it);
      if (kindOf(value) == K_RAW) writeRaw(value);
      else writeValue(value);
      it = itemNext(it);
    }
    putByte(0x5d);
  } else {
    writeRaw(v);
  }
}

/** Writes v; returns the output start (length via outputLength). */
export function writeDocument(v: usize, sizeHint: usize): usize {
  outStart = (arenaPosition() + 7) & ~(<usize>7);
  out = outStart;
  outCap = outStart;
  ensure(sizeHint + 64);
  writeValue(v);
  setArenaTop(out);
  return outStart;
}

export function outputLength(): usize {
  return out - outStart;
}
