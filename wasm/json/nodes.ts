// The in-memory shape of a document that a transform touches. Only the levels an operation looks
// into are materialized into objects/arrays; every other value stays a RAW span of the input bytes
// and is copied to the output as it came (minified if it had whitespace).
//
//   value  (20 B): kind, a, b, c, index
//     RAW   a = start, b = end (exclusive), c = flags (RAW_HAS_WS)
//     OBJ   a = first member, b = last member, c = count, index = key hash table or 0
//     ARR   a = first item,   b = last item,   c = count
//   An object with more than INDEX_MIN members gets a hash table of its members on the first
//   lookup (kept up to date on append, dropped on removal), so wide objects cost O(1) per key
//   instead of a scan: a backend sending 100,000 keys must not make the merge quadratic.
//   member (12 B): next, key, value
//   item    (8 B): next, value
//   key    (24 B): rawPtr, rawLen (bytes between the quotes, as written), cmpPtr, cmpLen (unescaped,
//                  WTF-8), hash (FNV-1a of cmp bytes), index (array-index value or NOT_INDEX)

import { alloc } from './memory';

// @ts-ignore: decorator
@inline export const K_RAW: i32 = 0;
// @ts-ignore: decorator
@inline export const K_OBJ: i32 = 1;
// @ts-ignore: decorator
@inline export const K_ARR: i32 = 2;

// @ts-ignore: decorator
@inline export const RAW_HAS_WS: i32 = 1;

// @ts-ignore: decorator
@inline export const NOT_INDEX: u32 = 0xffffffff;

// @ts-ignore: decorator
@inline export function kindOf(v: usize): i32 {
  return load<i32>(v);
}
// @ts-ignore: decorator
@inline export function fieldA(v: usize): usize {
  return load<usize>(v, 4);
}
// @ts-ignore: decorator
@inline export function fieldB(v: usize): usize {
  return load<usize>(v, 8);
}
// @ts-ignore: decorator
@inline export function fieldC(v: usize): i32 {
  return load<i32>(v, 12);
}

// @ts-ignore: decorator
@inline export function newValue(kind: i32, a: usize, b: usize, c: i32): usize {
  const v = alloc(20);
  store<i32>(v, kind);
  store<usize>(v, a, 4);
  store<usize>(v, b, 8);
  store<i32>(v, c, 12);
  store<usize>(v, 0, 16);
  return v;
}

// @ts-ignore: decorator
@inline export function setValue(v: usize, kind: i32, a: usize, b: usize, c: i32): void {
  store<i32>(v, kind);
  store<usize>(v, a, 4);
  store<usize>(v, b, 8);
  store<i32>(v, c, 12);
  store<usize>(v, 0, 16);
}

/** Forgets an object's member table (after a removal; rebuilt on the next lookup). */
// @ts-ignore: decorator
@inline export function dropIndex(obj: usize): void {
  store<usize>(obj, 0, 16);
}

// @ts-ignore: decorator
@inline const INDEX_MIN: i32 = 16;

/** table: [capacity (power of 2), used, capacity × member pointer or 0] */
function buildIndex(obj: usize, count: i32): usize {
  let cap: u32 = 64;
  while (cap < <u32>count * 2) cap <<= 1;
  const t = alloc(8 + (<usize>cap << 2));
  store<u32>(t, cap);
  store<u32>(t, 0, 4);
  memory.fill(t + 8, 0, <usize>cap << 2);
  let m = fieldA(obj);
  while (m != 0) {
    indexInsert(t, m);
    m = memberNext(m);
  }
  store<usize>(obj, t, 16);
  return t;
}

/** Table slot of a key hash: its high bits mixed down (the key hash is multiplicative). */
// @ts-ignore: decorator
@inline function slotOf(h: u32, mask: u32): u32 {
  h = (h ^ (h >> 16)) * 0x45d9f3b;
  return (h ^ (h >> 16)) & mask;
}

function indexInsert(t: usize, m: usize): void {
  const mask = load<u32>(t) - 1;
  let i = slotOf(keyHash(memberKey(m)), mask);
  while (load<usize>(t + 8 + (<usize>i << 2)) != 0) i = (i + 1) & mask;
  store<usize>(t + 8 + (<usize>i << 2), m);
  store<u32>(t, load<u32>(t, 4) + 1, 4);
}

function indexFind(t: usize, key: usize): usize {
  const mask = load<u32>(t) - 1;
  let i = slotOf(keyHash(key), mask);
  while (true) {
    const m = load<usize>(t + 8 + (<usize>i << 2));
    if (m == 0) return 0;
    if (keysEqual(memberKey(m), key)) return m;
    i = (i + 1) & mask;
  }
}

/** Keeps the table (if any) in step with a member just linked in. */
// @ts-ignore: decorator
@inline function indexAdded(obj: usize, m: usize): void {
  const t = load<usize>(obj, 16);
  if (t != 0) {
    if ((load<u32>(t, 4) + 1) * 2 > load<u32>(t)) buildIndex(obj, fieldC(obj));
    else indexInsert(t, m);
  }
}

export function newObject(): usize {
  return newValue(K_OBJ, 0, 0, 0);
}

// members
// @ts-ignore: decorator
@inline export function memberNext(m: usize): usize {
  return load<usize>(m);
}
// @ts-ignore: decorator
@inline export function memberKey(m: usize): usize {
  return load<usize>(m, 4);
}
// @ts-ignore: decorator
@inline export function memberValue(m: usize): usize {
  return load<usize>(m, 8);
}
// @ts-ignore: decorator
@inline export function setMemberValue(m: usize, v: usize): void {
  store<usize>(m, v, 8);
}
// @ts-ignore: decorator
@inline export function setMemberKey(m: usize, k: usize): void {
  store<usize>(m, k, 4);
}

// items
// @ts-ignore: decorator
@inline export function itemNext(i: usize): usize {
  return load<usize>(i);
}
// @ts-ignore: decorator
@inline export function itemValue(i: usize): usize {
  return load<usize>(i, 4);
}
// @ts-ignore: decorator
@inline export function setItemValue(i: usize, v: usize): void {
  store<usize>(i, v, 4);
}

// keys
// @ts-ignore: decorator
@inline export function keyRawPtr(k: usize): usize {
  return load<usize>(k);
}
// @ts-ignore: decorator
@inline export function keyRawLen(k: usize): usize {
  return load<usize>(k, 4);
}
// @ts-ignore: decorator
@inline export function keyCmpPtr(k: usize): usize {
  return load<usize>(k, 8);
}
// @ts-ignore: decorator
@inline export function keyCmpLen(k: usize): usize {
  return load<usize>(k, 12);
}
// @ts-ignore: decorator
@inline export function keyHash(k: usize): u32 {
  return load<u32>(k, 16);
}
// @ts-ignore: decorator
@inline export function keyIndex(k: usize): u32 {
  return load<u32>(k, 20);
}

export function newKey(rawPtr: usize, rawLen: usize, cmpPtr: usize, cmpLen: usize, hash: u32, index: u32): usize {
  const k = alloc(24);
  setKey(k, rawPtr, rawLen, cmpPtr, cmpLen, hash, index);
  return k;
}

// @ts-ignore: decorator
@inline export function setKey(k: usize, rawPtr: usize, rawLen: usize, cmpPtr: usize, cmpLen: usize, hash: u32, index: u32): void {
  store<usize>(k, rawPtr);
  store<usize>(k, rawLen, 4);
  store<usize>(k, cmpPtr, 8);
  store<usize>(k, cmpLen, 12);
  store<u32>(k, hash, 16);
  store<u32>(k, index, 20);
}

// @ts-ignore: decorator
@inline export function keysEqual(a: usize, b: usize): bool {
  if (a == b) return true;
  if (keyHash(a) != keyHash(b)) return false;
  const n = keyCmpLen(a);
  if (n != keyCmpLen(b)) return false;
  return memory.compare(keyCmpPtr(a), keyCmpPtr(b), n) == 0;
}

/** Canonical array index ("0", "17", up to 4294967294), which JS objects enumerate first. */
export function arrayIndexOf(p: usize, n: usize): u32 {
  if (n == 0 || n > 10) return NOT_INDEX;
  const first = load<u8>(p);
  if (first == 0x30) return n == 1 ? 0 : NOT_INDEX;
  let v: u64 = 0;
  for (let i: usize = 0; i < n; i++) {
    const d = <u32>load<u8>(p + i) - 0x30;
    if (d > 9) return NOT_INDEX;
    v = v * 10 + d;
  }
  return v <= 4294967294 ? <u32>v : NOT_INDEX;
}

/**
 * Key hash from the first and last 4 bytes and the length (src/transform/wasm/plan.ts keyHash
 * computes the same for plan keys). Keys are short; a collision only costs a byte comparison.
 * Reads up to 3 bytes past a short key: they are masked off (and there is always memory there).
 */
// @ts-ignore: decorator
@inline export function keyHashOf(p: usize, n: usize): u32 {
  let a: u32;
  let b: u32;
  if (n >= 4) {
    a = load<u32>(p);
    b = load<u32>(p + n - 4);
  } else {
    a = n == 0 ? 0 : load<u32>(p) & ((<u32>1 << (<u32>n << 3)) - 1);
    b = a;
  }
  return (a * 0x9e3779b1) ^ ((b ^ <u32>n) * 0x85ebca77);
}

/** Finds the member with this key (objects hold each key once). */
export function findMember(obj: usize, key: usize): usize {
  const count = fieldC(obj);
  if (count > INDEX_MIN) {
    let t = load<usize>(obj, 16);
    if (t == 0) t = buildIndex(obj, count);
    return indexFind(t, key);
  }
  let m = fieldA(obj);
  while (m != 0) {
    if (keysEqual(memberKey(m), key)) return m;
    m = memberNext(m);
  }
  return 0;
}

/**
 * Adds a member where a JS object would enumerate it: array-index keys first in ascending order,
 * then the others in insertion order. The key must not be present yet.
 */
// @ts-ignore: decorator
@inline export function appendMember(obj: usize, key: usize, value: usize): usize {
  const m = alloc(12);
  store<usize>(m, 0);
  store<usize>(m, key, 4);
  store<usize>(m, value, 8);
  linkMember(obj, m);
  return m;
}

/**
 * Links a member (next = 0, key and value set) where a JS object would enumerate it: array-index
 * keys first in ascending order, then the others in insertion order. The key must be new.
 */
// @ts-ignore: decorator
@inline export function linkMember(obj: usize, m: usize): void {
  const last = fieldB(obj);
  if (keyIndex(memberKey(m)) == NOT_INDEX && last != 0) {
    // the common case: a named key after other members goes last
    store<usize>(last, m);
    store<usize>(obj, m, 8);
    store<i32>(obj, fieldC(obj) + 1, 12);
    indexAdded(obj, m);
  } else {
    linkMemberOrdered(obj, m);
  }
}

function linkMemberOrdered(obj: usize, m: usize): void {
  const index = keyIndex(memberKey(m));
  const last = fieldB(obj);
  if (index == NOT_INDEX || last == 0 || (keyIndex(memberKey(last)) != NOT_INDEX && keyIndex(memberKey(last)) < index)) {
    if (last == 0) store<usize>(obj, m, 4);
    else store<usize>(last, m);
    store<usize>(obj, m, 8);
  } else {
    // Insert before the first member that is not an array index or has a larger index.
    let prev: usize = 0;
    let cur = fieldA(obj);
    while (cur != 0) {
      const ci = keyIndex(memberKey(cur));
      if (ci == NOT_INDEX || ci > index) break;
      prev = cur;
      cur = memberNext(cur);
    }
    store<usize>(m, cur);
    if (prev == 0) store<usize>(obj, m, 4);
    else store<usize>(prev, m);
    if (cur == 0) store<usize>(obj, m, 8);
  }
  store<i32>(obj, fieldC(obj) + 1, 12);
  indexAdded(obj, m);
}

/** `obj[key] = value` as JS does it: an existing key keeps its place. */
export function setMember(obj: usize, key: usize, value: usize): void {
  const m = findMember(obj, key);
  if (m != 0) setMemberValue(m, value);
  else appendMember(obj, key, value);
}

/** `delete obj[key]`; returns the removed value or 0. */
export function removeMember(obj: usize, key: usize): usize {
  let prev: usize = 0;
  let m = fieldA(obj);
  while (m != 0) {
    if (keysEqual(memberKey(m), key)) {
      const next = memberNext(m);
      if (prev == 0) store<usize>(obj, next, 4);
      else store<usize>(prev, next);
      if (fieldB(obj) == m) store<usize>(obj, prev, 8);
      store<i32>(obj, fieldC(obj) - 1, 12);
      dropIndex(obj);
      return memberValue(m);
    }
    prev = m;
    m = memberNext(m);
  }
  return 0;
}

export function appendItem(arr: usize, value: usize): void {
  const it = alloc(8);
  store<usize>(it, 0);
  store<usize>(it, value, 4);
  const last = fieldB(arr);
  if (last == 0) store<usize>(arr, it, 4);
  else store<usize>(last, it);
  store<usize>(arr, it, 8);
  store<i32>(arr, fieldC(arr) + 1, 12);
}

export function itemAt(arr: usize, index: i32): usize {
  if (index < 0 || index >= fieldC(arr)) return 0;
  let it = fieldA(arr);
  for (let i = 0; i < index; i++) it = itemNext(it);
  return it;
}
