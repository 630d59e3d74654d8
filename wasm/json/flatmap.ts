// flatmap_filter operations (move, del, append), as src/transform/flatmap.ts specifies them.
// The reference copies on write; here the tree belongs to the run, so containers change in place.
// An operation that cannot complete (the reference's FAIL) is checked before anything changes,
// except the source deletion of move/append, which is undone by relinking its cell.
//
// A path is [count, segment…] (a key record, or WILDCARD). Each operation comes with the base
// path (where wildcards may be) and, for move/append, wildcard-free relative paths below it.

import {
  K_ARR,
  NOT_INDEX,
  appendItem,
  appendMember,
  dropIndex,
  fieldA,
  fieldB,
  fieldC,
  findMember,
  itemAt,
  itemNext,
  itemValue,
  keyIndex,
  keysEqual,
  kindOf,
  memberKey,
  memberNext,
  memberValue,
  newObject,
  newValue,
  setItemValue,
  setMember,
  setValue,
} from './nodes';
import { isArrayValue, isObjectValue, materialize } from './reader';

// @ts-ignore: decorator
@inline const WILDCARD: usize = 1;

// @ts-ignore: decorator
@inline function segCount(path: usize): i32 {
  return load<i32>(path);
}
// @ts-ignore: decorator
@inline function seg(path: usize, i: i32): usize {
  return load<usize>(path + 4 + (<usize>i << 2));
}

// @ts-ignore: decorator
@inline function isContainer(v: usize): bool {
  return isObjectValue(v) || isArrayValue(v);
}

/** The child a segment names (array index or key), or 0. */
function child(node: usize, key: usize): usize {
  if (!isContainer(node)) return 0;
  materialize(node);
  if (kindOf(node) == K_ARR) {
    const idx = keyIndex(key);
    if (idx == NOT_INDEX || idx >= <u32>fieldC(node)) return 0;
    return itemValue(itemAt(node, <i32>idx));
  }
  const m = findMember(node, key);
  return m == 0 ? 0 : memberValue(m);
}

function getPath(node: usize, path: usize): usize {
  const n = segCount(path);
  for (let i = 0; i < n; i++) {
    node = child(node, seg(path, i));
    if (node == 0) return 0;
  }
  return node;
}

// The last unlinked cell (member or item: both start with `next`), to put it back.
let undoContainer: usize = 0;
let undoPrev: usize = 0;
let undoCell: usize = 0;

/** Unlinks the cell before which `prev` stands (0 = the first) from a container. */
function unlink(container: usize, prev: usize, cell: usize): void {
  const next = load<usize>(cell);
  if (prev == 0) store<usize>(container, next, 4);
  else store<usize>(prev, next);
  if (fieldB(container) == cell) store<usize>(container, prev, 8);
  store<i32>(container, fieldC(container) - 1, 12);
  dropIndex(container);
  undoContainer = container;
  undoPrev = prev;
  undoCell = cell;
}

function relink(): void {
  const container = undoContainer;
  const prev = undoPrev;
  const cell = undoCell;
  const next = prev == 0 ? fieldA(container) : load<usize>(prev);
  store<usize>(cell, next);
  if (prev == 0) store<usize>(container, cell, 4);
  else store<usize>(prev, cell);
  if (next == 0) store<usize>(container, cell, 8);
  store<i32>(container, fieldC(container) + 1, 12);
  dropIndex(container);
}

/** Removes one child of a container (an array element, the later ones shift down, or a key). */
function deleteChild(node: usize, key: usize): bool {
  materialize(node);
  let prev: usize = 0;
  if (kindOf(node) == K_ARR) {
    const idx = keyIndex(key);
    if (idx == NOT_INDEX || idx >= <u32>fieldC(node)) return false;
    let cell = fieldA(node);
    for (let i: u32 = 0; i < idx; i++) {
      prev = cell;
      cell = itemNext(cell);
    }
    unlink(node, prev, cell);
    return true;
  }
  let m = fieldA(node);
  while (m != 0) {
    if (keysEqual(memberKey(m), key)) {
      unlink(node, prev, m);
      return true;
    }
    prev = m;
    m = memberNext(m);
  }
  return false;
}

/** Deletes the value at a relative path (walking containers); false when it is not there. */
function deleteAt(node: usize, path: usize): bool {
  const n = segCount(path);
  for (let i = 0; i < n - 1; i++) {
    node = child(node, seg(path, i));
    if (node == 0 || !isContainer(node)) return false;
  }
  if (!isContainer(node)) return false;
  return deleteChild(node, seg(path, n - 1));
}

/**
 * Whether the reference's setPure succeeds: array indexes on the way must exist, a scalar on the
 * way fails, a missing object key is created (and below it nothing can fail).
 */
function canSet(node: usize, path: usize): bool {
  const n = segCount(path);
  for (let i = 0; i < n; i++) {
    const key = seg(path, i);
    materialize(node);
    if (kindOf(node) == K_ARR) {
      const idx = keyIndex(key);
      if (idx == NOT_INDEX || idx >= <u32>fieldC(node)) return false;
    }
    if (i == n - 1) return true;
    const c = child(node, key);
    if (c == 0) return true;
    if (!isContainer(c)) return false;
    node = c;
  }
  return true;
}

function doSet(node: usize, path: usize, value: usize): void {
  const n = segCount(path);
  for (let i = 0; i < n - 1; i++) {
    const key = seg(path, i);
    let c = child(node, key);
    if (c == 0) {
      c = newObject();
      setMember(node, key, c);
    }
    node = c;
  }
  const key = seg(path, n - 1);
  materialize(node);
  if (kindOf(node) == K_ARR) setItemValue(itemAt(node, <i32>keyIndex(key)), value);
  else setMember(node, key, value);
}

// @ts-ignore: decorator
@inline const LEAF_MOVE: i32 = 1;
// @ts-ignore: decorator
@inline const LEAF_APPEND: i32 = 2;
// @ts-ignore: decorator
@inline const LEAF_DEL: i32 = 3;

let leafKind: i32 = 0;
let leafA: usize = 0;
let leafB: usize = 0;

function moveIn(node: usize, src: usize, dst: usize): void {
  if (segCount(src) == 1 && segCount(dst) == 1 && isObjectValue(node)) {
    renameIn(node, seg(src, 0), seg(dst, 0));
    return;
  }
  const value = getPath(node, src);
  if (value == 0) return;
  const deleted = deleteAt(node, src);
  if (canSet(node, dst)) doSet(node, dst, value);
  else if (deleted) relink();
}

/**
 * move of one key to another inside an object (the usual rename): the same result as the
 * general path (remove the source; the destination keeps its place if it exists, else goes
 * last) in one pass over the members.
 */
function renameIn(node: usize, from: usize, to: usize): void {
  materialize(node);
  let prev: usize = 0;
  let source: usize = 0;
  let sourcePrev: usize = 0;
  let target: usize = 0;
  let m = fieldA(node);
  while (m != 0) {
    const k = memberKey(m);
    if (source == 0 && keysEqual(k, from)) {
      source = m;
      sourcePrev = prev;
      if (target != 0) break;
    } else if (target == 0 && keysEqual(k, to)) {
      target = m;
      if (source != 0) break;
    }
    prev = m;
    m = memberNext(m);
  }
  if (source == 0) return;
  const value = memberValue(source);
  unlink(node, sourcePrev, source);
  if (target != 0) store<usize>(target, value, 8);
  else appendMember(node, to, value);
}

// The destination's items, then the source's; both must be arrays (krakend/flatmap Tree.Append).
function appendIn(node: usize, src: usize, dst: usize): void {
  const items = getPath(node, src);
  if (items == 0 || !isArrayValue(items)) return;
  const deleted = deleteAt(node, src);
  const existing = getPath(node, dst);
  if (existing == 0 || !isArrayValue(existing) || !canSet(node, dst)) {
    if (deleted) relink();
    return;
  }
  materialize(existing);
  materialize(items);
  const combined = newValue(K_ARR, 0, 0, 0);
  let it = fieldA(existing);
  while (it != 0) {
    appendItem(combined, itemValue(it));
    it = itemNext(it);
  }
  it = fieldA(items);
  while (it != 0) {
    appendItem(combined, itemValue(it));
    it = itemNext(it);
  }
  doSet(node, dst, combined);
}

function leaf(node: usize): void {
  if (leafKind == LEAF_MOVE) {
    moveIn(node, leafA, leafB);
  } else if (leafKind == LEAF_APPEND) {
    appendIn(node, leafA, leafB);
  } else if (leafA == WILDCARD) {
    // `del x.*` empties the container
    materialize(node);
    setValue(node, kindOf(node), 0, 0, 0);
  } else {
    deleteChild(node, leafA);
  }
}

/** Runs the leaf on every container the base path matches (`*` = every element / value). */
function updateAt(node: usize, path: usize, i: i32): void {
  if (!isContainer(node)) return;
  materialize(node);
  if (i == segCount(path)) {
    leaf(node);
    return;
  }
  const key = seg(path, i);
  if (key == WILDCARD) {
    if (kindOf(node) == K_ARR) {
      let it = fieldA(node);
      while (it != 0) {
        updateAt(itemValue(it), path, i + 1);
        it = itemNext(it);
      }
    } else {
      let m = fieldA(node);
      while (m != 0) {
        updateAt(memberValue(m), path, i + 1);
        m = memberNext(m);
      }
    }
    return;
  }
  const c = child(node, key);
  if (c != 0) updateAt(c, path, i + 1);
}

export function flatmapMove(root: usize, base: usize, src: usize, dst: usize): void {
  leafKind = LEAF_MOVE;
  leafA = src;
  leafB = dst;
  updateAt(root, base, 0);
}

export function flatmapAppend(root: usize, base: usize, src: usize, dst: usize): void {
  leafKind = LEAF_APPEND;
  leafA = src;
  leafB = dst;
  updateAt(root, base, 0);
}

export function flatmapDelete(root: usize, base: usize, last: usize): void {
  leafKind = LEAF_DEL;
  leafA = last;
  updateAt(root, base, 0);
}

