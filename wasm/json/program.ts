// The interpreter of compiled endpoint plans (laid out by src/transform/wasm/plan.ts).
//
// plan (i32 words):   [0] backend count  [1] endpoint program or 0  [2] key "collection"
//                     [3 + 3i] backend i flags (1 = is_collection)  [4 + 3i] backend i program or 0
//                     [5 + 3i] backend i read shape or 0 (see readDocument), for the document root
// program (i32 words): opcode, operands…, ending with OP_END
// path:               count, then count segments (a key record, or WILDCARD)
// key list:           count, then count key records
// allow/deny tree:    count, 64-bit filter of the keys' hashes (bit = hash >> 26), then
//                     count × (key, subtree or 0 for "the whole value")

import { alloc, failure } from './memory';
import {
  keyHash,
  appendMember,
  dropIndex,
  fieldA,
  findMember,
  keysEqual,
  memberKey,
  memberNext,
  memberValue,
  newObject,
  removeMember,
  setMember,
} from './nodes';
import { ROOT_ARRAY, ROOT_OBJECT, isObjectValue, materialize, readDocument } from './reader';
import { writeDocument } from './writer';
import { flatmapAppend, flatmapDelete, flatmapMove } from './flatmap';

// @ts-ignore: decorator
@inline export const OP_END: i32 = 0;
// @ts-ignore: decorator
@inline export const OP_TARGET: i32 = 1;
// @ts-ignore: decorator
@inline export const OP_ALLOW: i32 = 2;
// @ts-ignore: decorator
@inline export const OP_DENY: i32 = 3;
// @ts-ignore: decorator
@inline export const OP_MAPPING: i32 = 4;
// @ts-ignore: decorator
@inline export const OP_GROUP: i32 = 5;
// @ts-ignore: decorator
@inline export const OP_MOVE: i32 = 6;
// @ts-ignore: decorator
@inline export const OP_DEL: i32 = 7;
// @ts-ignore: decorator
@inline export const OP_APPEND: i32 = 8;

/** A path segment that matches every key or index. */
// @ts-ignore: decorator
@inline export const WILDCARD: usize = 1;

// @ts-ignore: decorator
@inline function word(p: usize, i: i32): usize {
  return load<usize>(p + (<usize>i << 2));
}

/** `target`: descend into objects; a missing or non-object step yields an empty object. */
function applyTarget(cur: usize, path: usize): usize {
  const n = <i32>load<i32>(path);
  for (let i = 0; i < n; i++) {
    if (!isObjectValue(cur)) return newObject();
    materialize(cur);
    const m = findMember(cur, word(path, i + 1));
    if (m == 0) return newObject();
    cur = memberValue(m);
  }
  if (!isObjectValue(cur)) return newObject();
  return cur;
}

/** The tree entry for a key, or 0. A 64-bit filter of the entries' hashes rejects most keys at once. */
function treeLookup(tree: usize, key: usize): usize {
  const bit: u64 = (<u64>1) << (keyHash(key) >> 26);
  if ((load<u64>(tree, 4) & bit) == 0) return 0;
  const n = load<i32>(tree);
  for (let i = 0; i < n; i++) {
    const k = word(tree, 3 + 2 * i);
    if (keysEqual(k, key)) return tree + ((<usize>(3 + 2 * i)) << 2);
  }
  return 0;
}

/** allow: keeps the listed paths; a nested entry keeps an object only if something in it survives. */
function allowPrune(obj: usize, tree: usize): bool {
  materialize(obj);
  let prev: usize = 0;
  let m = fieldA(obj);
  let count = 0;
  while (m != 0) {
    const next = memberNext(m);
    let keep = false;
    const entry = treeLookup(tree, memberKey(m));
    if (entry != 0) {
      const sub = load<usize>(entry, 4);
      if (sub == 0) {
        keep = true;
      } else {
        const v = memberValue(m);
        if (isObjectValue(v) && !allowPrune(v, sub)) keep = true;
      }
    }
    if (keep) {
      prev = m;
      count++;
    } else {
      if (prev == 0) store<usize>(obj, next, 4);
      else store<usize>(prev, next);
    }
    m = next;
  }
  store<usize>(obj, prev, 8);
  store<i32>(obj, count, 12);
  dropIndex(obj);
  return count == 0;
}

/** deny: removes each leaf of the tree, descending through objects only; emptied parents stay. */
function denyTree(obj: usize, tree: usize): void {
  materialize(obj);
  const n = load<i32>(tree);
  for (let i = 0; i < n; i++) {
    const key = word(tree, 3 + 2 * i);
    const sub = word(tree, 4 + 2 * i);
    if (sub == 0) {
      removeMember(obj, key);
    } else {
      const m = findMember(obj, key);
      if (m != 0 && isObjectValue(memberValue(m))) denyTree(memberValue(m), sub);
    }
  }
}

/**
 * mapping: simultaneous renames of top-level keys into a new object, as the reference does: a
 * renamed key takes its source's place; a kept key whose name a rename already produced is
 * dropped; a later rename to the same name overwrites the value at the first position.
 * Layout: [pair count, (from key, target index)…, target count, target key…].
 */
function applyMapping(obj: usize, map: usize): usize {
  materialize(obj);
  const pairCount = load<i32>(map);
  const targets = map + ((<usize>(1 + 2 * pairCount)) << 2);
  const targetCount = load<i32>(targets);
  // 1 = present in the output, 2 = produced by a rename
  const state = alloc(<usize>targetCount);
  memory.fill(state, 0, <usize>targetCount);
  const out = newObject();
  let m = fieldA(obj);
  while (m != 0) {
    const key = memberKey(m);
    const value = memberValue(m);
    let t: i32 = -1;
    for (let i = 0; i < pairCount; i++) {
      if (keysEqual(word(map, 1 + 2 * i), key)) {
        t = <i32>word(map, 2 + 2 * i);
        break;
      }
    }
    if (t >= 0) {
      const to = word(targets, 1 + t);
      const s = load<u8>(state + t);
      if (s != 0) setMember(out, to, value);
      else appendMember(out, to, value);
      store<u8>(state + t, 3);
    } else {
      let kept = true;
      for (let i = 0; i < targetCount; i++) {
        if (keysEqual(word(targets, 1 + i), key)) {
          if ((load<u8>(state + i) & 2) != 0) kept = false;
          else store<u8>(state + i, 1);
          break;
        }
      }
      if (kept) appendMember(out, key, value);
    }
    m = memberNext(m);
  }
  return out;
}

function runProgram(cur: usize, prog: usize): usize {
  let pc: i32 = 0;
  while (failure == 0) {
    const op = <i32>word(prog, pc);
    if (op == OP_END) break;
    if (op == OP_TARGET) {
      cur = applyTarget(cur, word(prog, pc + 1));
      pc += 2;
    } else if (op == OP_ALLOW) {
      allowPrune(cur, word(prog, pc + 1));
      pc += 2;
    } else if (op == OP_DENY) {
      denyTree(cur, word(prog, pc + 1));
      pc += 2;
    } else if (op == OP_MAPPING) {
      cur = applyMapping(cur, word(prog, pc + 1));
      pc += 2;
    } else if (op == OP_GROUP) {
      const g = newObject();
      appendMember(g, word(prog, pc + 1), cur);
      cur = g;
      pc += 2;
    } else if (op == OP_MOVE) {
      flatmapMove(cur, word(prog, pc + 1), word(prog, pc + 2), word(prog, pc + 3));
      pc += 4;
    } else if (op == OP_DEL) {
      flatmapDelete(cur, word(prog, pc + 1), word(prog, pc + 2));
      pc += 3;
    } else if (op == OP_APPEND) {
      flatmapAppend(cur, word(prog, pc + 1), word(prog, pc + 2), word(prog, pc + 3));
      pc += 4;
    } else {
      break;
    }
  }
  return cur;
}

/** Merges `part` into `acc` key by key at the top level (a later part overwrites a key in place). */
function mergeInto(acc: usize, part: usize): void {
  materialize(acc);
  materialize(part);
  let m = fieldA(part);
  while (m != 0) {
    setMember(acc, memberKey(m), memberValue(m));
    m = memberNext(m);
  }
}

export function runPlan(plan: usize, parts: usize, count: i32): usize {
  const backends = <i32>word(plan, 0);
  const collectionKey = word(plan, 2);
  let acc: usize = 0;
  let inputBytes: usize = 0;
  for (let i = 0; i < count; i++) {
    const index = <i32>word(parts, 3 * i);
    const ptr = word(parts, 3 * i + 1);
    const len = word(parts, 3 * i + 2);
    inputBytes += len;
    if (index < 0 || index >= backends) continue;
    const flags = <i32>word(plan, 3 + 3 * index);
    const prog = word(plan, 4 + 3 * index);
    const shape = word(plan, 5 + 3 * index);
    const isCollection = (flags & 1) != 0;
    let cur: usize;
    if (len == 0) {
      cur = newObject();
    } else {
      cur = readDocument(ptr, ptr + len, isCollection ? ROOT_ARRAY : ROOT_OBJECT, shape);
      if (cur == 0) return 0;
      if (isCollection) {
        const wrap = newObject();
        appendMember(wrap, collectionKey, cur);
        cur = wrap;
      }
    }
    if (prog != 0) cur = runProgram(cur, prog);
    if (failure != 0) return 0;
    if (acc == 0) {
      acc = cur;
    } else {
      mergeInto(acc, cur);
    }
  }
  if (acc == 0) acc = newObject();
  const endpointProg = word(plan, 1);
  if (endpointProg != 0) {
    materialize(acc);
    acc = runProgram(acc, endpointProg);
  }
  if (failure != 0) return 0;
  return writeDocument(acc, inputBytes);
}
