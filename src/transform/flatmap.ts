// The flatmap filter (`extra_config.proxy.flatmap_filter`): move / del / append over dot paths
// with array indexes and `*` wildcards. The rules are specified in index.ts.
//
// Copy-on-write: the input is never mutated. Each run keeps a set of the containers it copied
// itself ("owned"); those are modified in place by the later operations of the same run, so a
// chain of operations copies each touched container once, not once per operation.

import type { ConfigIssue, ExtraConfig } from '../types.js';
import {
  arrayIndex,
  child,
  copyWithout,
  getOwn,
  getPath,
  hasOwnKey,
  isContainer,
  isObject,
  type JsonObject,
  setOwn,
  splitPath,
  WILDCARD,
} from './paths.js';

export interface FlatmapOp {
  type: 'move' | 'del' | 'append';
  args: string[];
}

export type FlatmapTransform = (data: Record<string, unknown>) => Record<string, unknown>;

const OP_TYPES = new Set(['move', 'del', 'append']);

/**
 * The flatmap operations of an `extra_config` (`proxy.flatmap_filter`), or undefined when there
 * are none. Malformed entries (not an object, unknown type, non-string args) are skipped here;
 * `validateFlatmap` reports them.
 */
export function flatmapFromExtraConfig(extra: ExtraConfig | undefined): FlatmapOp[] | undefined {
  if (!isObject(extra)) return undefined;
  const proxy = getOwn(extra, 'proxy');
  if (!isObject(proxy)) return undefined;
  const list = getOwn(proxy, 'flatmap_filter');
  if (!Array.isArray(list)) return undefined;
  const ops: FlatmapOp[] = [];
  for (const item of list) {
    if (!isObject(item)) continue;
    const type = getOwn(item, 'type');
    const args = getOwn(item, 'args');
    if (typeof type !== 'string' || !OP_TYPES.has(type) || !Array.isArray(args)) continue;
    if (!args.every((a) => typeof a === 'string')) continue;
    ops.push({ type: type as FlatmapOp['type'], args: [...(args as string[])] });
  }
  return ops.length > 0 ? ops : undefined;
}

// ---------------------------------------------------------------------------------------------
// Compilation

type Container = JsonObject | unknown[];
type Owned = Set<object>;
/** One compiled operation: takes the root, returns the new root. */
type Step = (root: JsonObject, owned: Owned) => JsonObject;
/** Work done on each container a base path matches; returns it (unchanged) or its replacement. */
type Leaf = (node: Container, owned: Owned) => Container;

/** Compiles a list of flatmap operations, run top-down, each on the previous one's output. */
export function compileFlatmap(ops: FlatmapOp[]): FlatmapTransform {
  const steps: Step[] = [];
  for (const op of ops) {
    if (op.type === 'del') {
      for (const arg of op.args) steps.push(compileDel(splitPath(arg)));
    } else if (op.type === 'move' || op.type === 'append') {
      if (op.args.length !== 2) continue;
      const step = compileMoveOrAppend(op.type, splitPath(op.args[0]), splitPath(op.args[1]));
      if (step) steps.push(step);
    }
  }
  if (steps.length === 0) return (data) => data;
  return (data) => {
    const owned: Owned = new Set();
    for (let i = 0; i < steps.length; i++) data = steps[i](data, owned);
    return data;
  };
}

function compileDel(segments: string[]): Step {
  const base = segments.slice(0, -1);
  const last = segments[segments.length - 1];
  const leaf: Leaf = last === WILDCARD ? clearAll : (node, owned) => deleteChild(node, last, owned);
  return (root, owned) => updateAt(root, base, 0, leaf, owned) as JsonObject;
}

/**
 * Splits a move/append into the part both paths share (the base, where wildcards may be) and the
 * relative paths below it. Returns undefined when a wildcard lies outside the shared part: such
 * an operation cannot be done element by element (the docs' "missing level" and "renaming an
 * element that is not in the last position" cases), so it does nothing.
 */
export function splitMovePaths(
  src: readonly string[],
  dst: readonly string[],
): { base: string[]; srcRel: string[]; dstRel: string[] } | undefined {
  let common = 0;
  while (common < src.length && common < dst.length && src[common] === dst[common]) common++;
  const baseLen = Math.min(common, src.length - 1, dst.length - 1);
  const srcRel = src.slice(baseLen);
  const dstRel = dst.slice(baseLen);
  if (srcRel.includes(WILDCARD) || dstRel.includes(WILDCARD)) return undefined;
  return { base: src.slice(0, baseLen), srcRel, dstRel };
}

function compileMoveOrAppend(type: 'move' | 'append', src: string[], dst: string[]): Step | undefined {
  const split = splitMovePaths(src, dst);
  if (!split) return undefined;
  const { base, srcRel, dstRel } = split;
  if (srcRel.length === dstRel.length && srcRel.every((s, i) => s === dstRel[i])) return undefined;
  const leaf: Leaf =
    type === 'move' ? (node) => moveIn(node, srcRel, dstRel) : (node) => appendIn(node, srcRel, dstRel);
  return (root, owned) => updateAt(root, base, 0, leaf, owned) as JsonObject;
}

// ---------------------------------------------------------------------------------------------
// Runtime helpers

function writable(node: Container, owned: Owned): Container {
  if (owned.has(node)) return node;
  const copy: Container = Array.isArray(node) ? node.slice() : { ...node };
  owned.add(copy);
  return copy;
}

function setChild(container: Container, segment: string, value: unknown): void {
  if (Array.isArray(container)) container[arrayIndex(segment)] = value;
  else setOwn(container, segment, value);
}

/**
 * Applies `leaf` to every container that `path[i..]` matches below `node` (`*` = every array
 * element and every object value), copying the containers on the way. Returns `node` itself when
 * nothing changed.
 */
function updateAt(node: unknown, path: readonly string[], i: number, leaf: Leaf, owned: Owned): unknown {
  if (!isContainer(node)) return node;
  if (i === path.length) return leaf(node, owned);
  const seg = path[i];
  if (seg === WILDCARD) {
    let out: Container | undefined;
    if (Array.isArray(node)) {
      for (let j = 0; j < node.length; j++) {
        const c = node[j];
        const nc = updateAt(c, path, i + 1, leaf, owned);
        if (nc !== c) {
          out ??= writable(node, owned);
          (out as unknown[])[j] = nc;
        }
      }
    } else {
      const keys = Object.keys(node);
      for (let j = 0; j < keys.length; j++) {
        const c = node[keys[j]];
        const nc = updateAt(c, path, i + 1, leaf, owned);
        if (nc !== c) {
          out ??= writable(node, owned);
          setOwn(out as JsonObject, keys[j], nc);
        }
      }
    }
    return out ?? node;
  }
  const c = child(node, seg);
  if (c === undefined) return node;
  const nc = updateAt(c, path, i + 1, leaf, owned);
  if (nc === c) return node;
  const out = writable(node, owned);
  setChild(out, seg, nc);
  return out;
}

/** `del x.*`: empties the array or object. */
function clearAll(node: Container, owned: Owned): Container {
  if (Array.isArray(node)) {
    if (node.length === 0) return node;
    const empty: unknown[] = [];
    owned.add(empty);
    return empty;
  }
  if (Object.keys(node).length === 0) return node;
  const empty: JsonObject = {};
  owned.add(empty);
  return empty;
}

/** Removes one child: an array element (the later ones shift down) or an object key. */
function deleteChild(node: Container, segment: string, owned: Owned): Container {
  if (Array.isArray(node)) {
    const idx = arrayIndex(segment);
    if (idx < 0 || idx >= node.length) return node;
    const out = writable(node, owned) as unknown[];
    out.splice(idx, 1);
    return out;
  }
  if (!hasOwnKey(node, segment)) return node;
  const out = copyWithout(node, segment);
  owned.add(out);
  return out;
}

// move/append below one base match. These copy along their (short, wildcard-free) relative paths
// without touching anything in place, so that an operation that cannot complete leaves no trace.

const FAIL = Symbol('fail');

/** `node` without the value at `path` (copies along the path), or `node` when it is missing. */
function deletePure(node: Container, path: readonly string[], i: number): Container {
  const seg = path[i];
  if (i === path.length - 1) {
    if (Array.isArray(node)) {
      const idx = arrayIndex(seg);
      if (idx < 0 || idx >= node.length) return node;
      const out = node.slice();
      out.splice(idx, 1);
      return out;
    }
    if (!hasOwnKey(node, seg)) return node;
    return copyWithout(node, seg);
  }
  const c = child(node, seg);
  if (!isContainer(c)) return node;
  const nc = deletePure(c, path, i + 1);
  if (nc === c) return node;
  const out: Container = Array.isArray(node) ? node.slice() : { ...node };
  setChild(out, seg, nc);
  return out;
}

/**
 * `node` with `value` written at `path` (copies along the path). Missing object keys on the way
 * are created as objects; an array index must exist; a scalar on the way makes it fail.
 */
function setPure(
  node: Container,
  path: readonly string[],
  i: number,
  value: unknown,
): Container | typeof FAIL {
  const seg = path[i];
  const isArray = Array.isArray(node);
  if (isArray) {
    const idx = arrayIndex(seg);
    if (idx < 0 || idx >= node.length) return FAIL;
  }
  let next: unknown = value;
  if (i < path.length - 1) {
    const c = child(node, seg);
    if (c === undefined) next = setPure({}, path, i + 1, value);
    else if (isContainer(c)) next = setPure(c, path, i + 1, value);
    else return FAIL;
    if (next === FAIL) return FAIL;
  }
  const out: Container = isArray ? node.slice() : { ...node };
  setChild(out, seg, next);
  return out;
}

function moveIn(node: Container, srcRel: readonly string[], dstRel: readonly string[]): Container {
  const value = getPath(node, srcRel);
  if (value === undefined) return node;
  if (srcRel.length === 1 && dstRel.length === 1 && !Array.isArray(node)) {
    return renameKey(node, srcRel[0], dstRel[0], value);
  }
  const result = setPure(deletePure(node, srcRel, 0), dstRel, 0, value);
  return result === FAIL ? node : result;
}

/** The common `x.*.a` → `x.*.b` case in one copy: same result as delete-then-set. */
function renameKey(obj: JsonObject, from: string, to: string, value: unknown): JsonObject {
  const out: JsonObject = {};
  let placed = false;
  const keys = Object.keys(obj);
  for (let i = 0; i < keys.length; i++) {
    const k = keys[i];
    if (k === from) continue;
    if (k === to) {
      setOwn(out, k, value);
      placed = true;
    } else {
      setOwn(out, k, obj[k]);
    }
  }
  if (!placed) setOwn(out, to, value);
  return out;
}

/**
 * The destination's items, then the source's; the source removed. Both must be arrays, else
 * nothing changes (krakend/flatmap tree/tree.go, Tree.Append; its tree_test.go TestTree_Append).
 */
function appendIn(node: Container, srcRel: readonly string[], dstRel: readonly string[]): Container {
  const items = getPath(node, srcRel);
  if (!Array.isArray(items)) return node;
  const without = deletePure(node, srcRel, 0);
  const existing = getPath(without, dstRel);
  if (!Array.isArray(existing)) return node;
  const combined = existing.concat(items);
  const result = setPure(without, dstRel, 0, combined);
  return result === FAIL ? node : result;
}

// ---------------------------------------------------------------------------------------------
// Config checks

function checkPath(arg: unknown, at: string, issues: ConfigIssue[]): arg is string {
  if (typeof arg !== 'string') {
    issues.push({ path: at, message: 'expected a string (a dot path such as "a.*.b")' });
    return false;
  }
  if (arg === '') {
    issues.push({ path: at, message: 'empty path' });
    return false;
  }
  if (splitPath(arg).includes('')) {
    issues.push({ path: at, message: `"${arg}" has an empty segment (leading, trailing or double dot)` });
    return false;
  }
  return true;
}

/**
 * Errors in a `flatmap_filter` value (`path` is its JSON path): not an array, an entry that is not
 * an object, a `type` other than move/del/append, `args` that are not strings, the wrong number
 * of args (move/append: 2, del: at least 1), empty paths or empty path segments.
 */
export function validateFlatmap(ops: unknown, path: string): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  if (!Array.isArray(ops)) {
    issues.push({ path, message: 'expected an array of {"type", "args"} operations' });
    return issues;
  }
  ops.forEach((op, i) => {
    const at = `${path}[${i}]`;
    if (!isObject(op)) {
      issues.push({ path: at, message: 'expected an object {"type": "move"|"del"|"append", "args": [...]}' });
      return;
    }
    const type = getOwn(op, 'type');
    if (typeof type !== 'string' || !OP_TYPES.has(type)) {
      issues.push({
        path: `${at}.type`,
        message: `expected "move", "del" or "append", got ${JSON.stringify(type)}`,
      });
    }
    const args = getOwn(op, 'args');
    if (!Array.isArray(args)) {
      issues.push({ path: `${at}.args`, message: 'expected an array of dot paths' });
      return;
    }
    if ((type === 'move' || type === 'append') && args.length !== 2) {
      issues.push({
        path: `${at}.args`,
        message: `"${type}" takes exactly 2 paths [from, to], got ${args.length}`,
      });
    } else if (args.length === 0) {
      issues.push({ path: `${at}.args`, message: 'expected at least 1 path' });
    }
    args.forEach((arg, j) => {
      checkPath(arg, `${at}.args[${j}]`, issues);
    });
  });
  return issues;
}

/**
 * Warnings for a valid `flatmap_filter`: operations KrakenD accepts but that can never do
 * anything (a wildcard outside the part the two paths of a move/append share), and moves onto
 * themselves.
 */
export function lintFlatmap(ops: unknown, path: string): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  if (!Array.isArray(ops)) return issues;
  ops.forEach((op, i) => {
    if (!isObject(op)) return;
    const type = getOwn(op, 'type');
    const args = getOwn(op, 'args');
    if ((type !== 'move' && type !== 'append') || !Array.isArray(args) || args.length !== 2) return;
    if (typeof args[0] !== 'string' || typeof args[1] !== 'string') return;
    const src = splitPath(args[0]);
    const dst = splitPath(args[1]);
    if (!splitMovePaths(src, dst)) {
      issues.push({
        path: `${path}[${i}].args`,
        message: `"${type}" from "${args[0]}" to "${args[1]}" does nothing: wildcards (*) must be in the leading part both paths share, and only the segments after it may differ`,
      });
    } else if (args[0] === args[1]) {
      issues.push({
        path: `${path}[${i}].args`,
        message: `"${type}" from "${args[0]}" onto itself does nothing`,
      });
    }
  });
  return issues;
}
