// Compiles an endpoint's manipulation into the flat program that wasm/json/program.ts executes.
// Everything here runs once per endpoint at startup; the result is a block of i32 words and key
// bytes laid into the module's persistent memory.

import { splitMovePaths } from '../flatmap.js';
import type { BackendManipulation, FlatmapOp } from '../index.js';
import { buildPathTree, mappingRenames, type PathTree } from '../manipulation.js';
import { splitPath } from '../paths.js';

export interface EndpointTransformPlan {
  /** Backends in config order; a part's `index` refers to this list. */
  backends: Array<BackendManipulation & { isCollection?: boolean }>;
  /** Endpoint-level flatmap_filter, applied after the merge. */
  endpointFlatmap?: FlatmapOp[];
}

// Opcodes: keep in sync with wasm/json/program.ts.
const OP_END = 0;
const OP_TARGET = 1;
const OP_ALLOW = 2;
const OP_DENY = 3;
const OP_MAPPING = 4;
const OP_GROUP = 5;
const OP_MOVE = 6;
const OP_DEL = 7;
const OP_APPEND = 8;
const WILDCARD = 1;
const NOT_INDEX = 0xffffffff;

/** Why a plan cannot run on the WASM path. */
export class UnsupportedPlanError extends Error {}

/** UTF-8 with lone surrogates encoded as 3 bytes (WTF-8), as the reader decodes `\uD800`. */
export function wtf8(s: string): Uint8Array {
  const out: number[] = [];
  for (let i = 0; i < s.length; i++) {
    let cp = s.charCodeAt(i);
    if (cp >= 0xd800 && cp <= 0xdbff && i + 1 < s.length) {
      const lo = s.charCodeAt(i + 1);
      if (lo >= 0xdc00 && lo <= 0xdfff) {
        cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
        i++;
      }
    }
    if (cp < 0x80) out.push(cp);
    else if (cp < 0x800) out.push(0xc0 | (cp >> 6), 0x80 | (cp & 0x3f));
    else if (cp < 0x10000) out.push(0xe0 | (cp >> 12), 0x80 | ((cp >> 6) & 0x3f), 0x80 | (cp & 0x3f));
    else
      out.push(0xf0 | (cp >> 18), 0x80 | ((cp >> 12) & 0x3f), 0x80 | ((cp >> 6) & 0x3f), 0x80 | (cp & 0x3f));
  }
  return Uint8Array.from(out);
}

/** wasm/json/nodes.ts keyHash: the first and last 4 bytes and the length (keys are short). */
export function keyHash(bytes: Uint8Array): number {
  const n = bytes.length;
  const word = (at: number, len: number) => {
    let v = 0;
    for (let i = 0; i < len; i++) v |= bytes[at + i] << (8 * i);
    return v >>> 0;
  };
  const a = n >= 4 ? word(0, 4) : word(0, n);
  const b = n >= 4 ? word(n - 4, 4) : a;
  return (Math.imul(a, 0x9e3779b1) ^ Math.imul(b ^ n, 0x85ebca77)) >>> 0;
}

/** The value JS objects order first ("0".."4294967294", canonical), else NOT_INDEX. */
export function arrayIndexOf(s: string): number {
  if (!/^(0|[1-9][0-9]{0,9})$/.test(s)) return NOT_INDEX;
  const v = Number(s);
  return v <= 4294967294 ? v : NOT_INDEX;
}

/**
 * A growing block of 32-bit words with relocations: `ref()` words hold offsets inside the block
 * and get the block's base address added when it is placed in WASM memory.
 */
class Block {
  private words: number[] = [];
  private bytes: Uint8Array[] = [];
  private bytesSize = 0;
  private relocs: number[] = [];
  private keys = new Map<string, number>();

  /** Reserves n words; returns the word index of the first. */
  reserve(n: number): number {
    const at = this.words.length;
    for (let i = 0; i < n; i++) this.words.push(0);
    return at;
  }
  set(wordIndex: number, value: number): void {
    this.words[wordIndex] = value >>> 0;
  }
  /** Stores a pointer to another word of this block. */
  setRef(wordIndex: number, targetWord: number): void {
    this.words[wordIndex] = targetWord * 4;
    this.relocs.push(wordIndex);
  }
  /** Stores a pointer to raw bytes placed after the words. */
  private setBytesRef(wordIndex: number, byteOffset: number): void {
    this.words[wordIndex] = -1 - byteOffset; // resolved in place()
    this.relocs.push(wordIndex);
  }
  private addBytes(b: Uint8Array): number {
    const at = this.bytesSize;
    this.bytes.push(b);
    this.bytesSize += b.length;
    return at;
  }
  /** A key record (rawPtr, rawLen, cmpPtr, cmpLen, hash, index); one per distinct name. */
  key(name: string): number {
    const known = this.keys.get(name);
    if (known !== undefined) return known;
    const raw = Buffer.from(JSON.stringify(name).slice(1, -1), 'utf8');
    const cmp = wtf8(name);
    const at = this.reserve(6);
    this.setBytesRef(at, this.addBytes(raw));
    this.set(at + 1, raw.length);
    this.setBytesRef(at + 2, this.addBytes(cmp));
    this.set(at + 3, cmp.length);
    this.set(at + 4, keyHash(cmp));
    this.set(at + 5, arrayIndexOf(name));
    this.keys.set(name, at);
    return at;
  }
  get byteLength(): number {
    return this.words.length * 4 + this.bytesSize;
  }
  /** Writes the block at `base` of `memory`. */
  place(memory: Uint8Array, base: number): void {
    const wordsBytes = this.words.length * 4;
    const view = new DataView(memory.buffer, memory.byteOffset + base, this.byteLength);
    const relocated = new Set(this.relocs);
    for (let i = 0; i < this.words.length; i++) {
      let w = this.words[i];
      if (relocated.has(i)) w = w < 0 ? base + wordsBytes + (-1 - w) : base + w;
      view.setUint32(i * 4, w >>> 0, true);
    }
    let off = base + wordsBytes;
    for (const b of this.bytes) {
      memory.set(b, off);
      off += b.length;
    }
  }
}

function emitPath(block: Block, segments: string[], wildcards: boolean): number {
  const at = block.reserve(1 + segments.length);
  block.set(at, segments.length);
  segments.forEach((seg, i) => {
    if (wildcards && seg === '*') block.set(at + 1 + i, WILDCARD);
    else block.setRef(at + 1 + i, block.key(seg));
  });
  return at;
}

/** [count, filter lo, filter hi, (key, subtree or 0)…]: the filter has bit (hash >>> 26) per key. */
function emitPathTree(block: Block, tree: PathTree): number {
  const entries = [...tree.entries()];
  const at = block.reserve(3 + 2 * entries.length);
  block.set(at, entries.length);
  let lo = 0;
  let hi = 0;
  entries.forEach(([name, child], i) => {
    const bit = keyHash(wtf8(name)) >>> 26;
    if (bit < 32) lo |= 1 << bit;
    else hi |= 1 << (bit - 32);
    block.setRef(at + 3 + 2 * i, block.key(name));
    if (child === true) block.set(at + 4 + 2 * i, 0);
    else block.setRef(at + 4 + 2 * i, emitPathTree(block, child));
  });
  block.set(at + 1, lo);
  block.set(at + 2, hi);
  return at;
}

/** The reference's mapping renames as [pairs: (from, target index)…][targets: key…]. */
function emitMapping(block: Block, mapping: Readonly<Record<string, string>>): number | undefined {
  const renames = mappingRenames(mapping);
  if (renames.size === 0) return undefined;
  const targets = [...new Set(renames.values())];
  const pairs = [...renames.entries()];
  const at = block.reserve(2 + 2 * pairs.length + targets.length);
  block.set(at, pairs.length);
  pairs.forEach(([from, to], i) => {
    block.setRef(at + 1 + 2 * i, block.key(from));
    block.set(at + 2 + 2 * i, targets.indexOf(to));
  });
  const t = at + 1 + 2 * pairs.length;
  block.set(t, targets.length);
  targets.forEach((name, i) => {
    block.setRef(t + 1 + i, block.key(name));
  });
  return at;
}

function emitFlatmap(block: Block, ops: FlatmapOp[], program: number[][]): void {
  for (const op of ops) {
    if (op.type === 'del') {
      for (const arg of op.args) {
        const segs = splitPath(arg);
        const last = segs[segs.length - 1];
        const base = emitPath(block, segs.slice(0, -1), true);
        program.push([OP_DEL, -1 - base, last === '*' ? WILDCARD : -1 - block.key(last)]);
      }
    } else if (op.type === 'move' || op.type === 'append') {
      // The reference's rules: operations whose wildcards lie outside the shared base, or that
      // move a path onto itself, do nothing and are left out.
      if (op.args.length !== 2) continue;
      const split = splitMovePaths(splitPath(op.args[0]), splitPath(op.args[1]));
      if (!split) continue;
      const { base, srcRel, dstRel } = split;
      if (srcRel.length === dstRel.length && srcRel.every((s, i) => s === dstRel[i])) continue;
      program.push([
        op.type === 'move' ? OP_MOVE : OP_APPEND,
        -1 - emitPath(block, base, true),
        -1 - emitPath(block, srcRel, false),
        -1 - emitPath(block, dstRel, false),
      ]);
    } else {
      throw new UnsupportedPlanError(`unknown flatmap operation ${(op as FlatmapOp).type}`);
    }
  }
}

/** Lays a program (opcode rows; negative operands are word refs, -1 - index) into the block. */
function emitProgram(block: Block, rows: number[][]): number {
  const size = rows.reduce((n, r) => n + r.length, 0) + 1;
  const at = block.reserve(size);
  let w = at;
  for (const row of rows) {
    for (const v of row) {
      if (v < 0) block.setRef(w, -1 - v);
      else block.set(w, v);
      w++;
    }
  }
  block.set(w, OP_END);
  return at;
}

function backendProgram(block: Block, m: BackendManipulation): number[][] {
  const rows: number[][] = [];
  if (m.target) rows.push([OP_TARGET, -1 - emitPath(block, splitPath(m.target), false)]);
  if (m.flatmap && m.flatmap.length > 0) {
    emitFlatmap(block, m.flatmap, rows);
  } else {
    if (m.allow && m.allow.length > 0) {
      rows.push([OP_ALLOW, -1 - emitPathTree(block, buildPathTree(m.allow))]);
    } else if (m.deny && m.deny.length > 0) {
      rows.push([OP_DENY, -1 - emitPathTree(block, buildPathTree(m.deny))]);
    }
    const mapping = m.mapping ? emitMapping(block, m.mapping) : undefined;
    if (mapping !== undefined) rows.push([OP_MAPPING, -1 - mapping]);
  }
  if (m.group) rows.push([OP_GROUP, -1 - block.key(m.group)]);
  return rows;
}

/**
 * The read shape: the containers the program will walk, opened while the document is read so
 * that their bytes are scanned once (anything else is opened lazily, at the cost of a rescan).
 * A trie of path segments; `*` absorbs its named siblings (opening more than needed is harmless).
 */
interface Shape {
  children: Map<string, Shape>;
}

function addShapePath(root: Shape, segments: readonly string[]): void {
  let node = root;
  for (const seg of segments) {
    let next = node.children.get(seg);
    if (!next) {
      next = { children: new Map() };
      node.children.set(seg, next);
    }
    node = next;
  }
}

function mergeShape(into: Shape, from: Shape): void {
  for (const [k, v] of from.children) {
    const mine = into.children.get(k);
    if (mine) mergeShape(mine, v);
    else into.children.set(k, v);
  }
}

function normaliseShape(node: Shape): void {
  const star = node.children.get('*');
  if (star) {
    for (const [k, v] of node.children) if (k !== '*') mergeShape(star, v);
    node.children = new Map([['*', star]]);
  }
  for (const child of node.children.values()) normaliseShape(child);
}

function treePaths(tree: PathTree, prefix: string[], out: string[][]): void {
  for (const [k, v] of tree) {
    if (v !== true) {
      out.push([...prefix, k]);
      treePaths(v, [...prefix, k], out);
    }
  }
}

/** The shape of the document root of backend `m` (for a collection: of the array). */
/** The containers flatmap operations walk (relative to the object they run on). */
function flatmapPaths(ops: readonly FlatmapOp[], paths: string[][]): void {
  for (const op of ops) {
    if (op.type === 'del') {
      for (const arg of op.args) paths.push(splitPath(arg).slice(0, -1));
    } else if (op.args.length === 2) {
      const split = splitMovePaths(splitPath(op.args[0]), splitPath(op.args[1]));
      if (!split) continue;
      paths.push([...split.base, ...split.srcRel.slice(0, -1)]);
      paths.push([...split.base, ...split.dstRel.slice(0, -1)]);
    }
  }
}

function backendShape(
  m: BackendManipulation & { isCollection?: boolean },
  endpointPaths: readonly string[][],
): Shape | undefined {
  const root: Shape = { children: new Map() };
  const target = m.target ? splitPath(m.target) : [];
  const paths: string[][] = [];
  // Paths of the endpoint flatmap reach this backend's data below its group (if any).
  for (const p of endpointPaths) {
    if (!m.group) paths.push(p);
    else if (p.length > 1 && (p[0] === m.group || p[0] === '*')) paths.push(p.slice(1));
  }
  if (m.flatmap && m.flatmap.length > 0) {
    flatmapPaths(m.flatmap, paths);
  } else if (m.allow && m.allow.length > 0) {
    treePaths(buildPathTree(m.allow), [], paths);
  } else if (m.deny && m.deny.length > 0) {
    treePaths(buildPathTree(m.deny), [], paths);
  }
  // A path under a move/append destination was, before that operation, under its source.
  if (m.flatmap) {
    for (let k = m.flatmap.length - 1; k >= 0; k--) {
      const op = m.flatmap[k];
      if (op.type === 'del' || op.args.length !== 2) continue;
      const split = splitMovePaths(splitPath(op.args[0]), splitPath(op.args[1]));
      if (!split) continue;
      const dst = [...split.base, ...split.dstRel];
      const src = [...split.base, ...split.srcRel];
      for (const p of [...paths]) {
        if (p.length >= dst.length && dst.every((seg, i) => seg === p[i] || seg === '*' || p[i] === '*')) {
          paths.push([...src, ...p.slice(dst.length)]);
        }
      }
    }
  }
  addShapePath(root, target);
  for (const p of paths) addShapePath(root, [...target, ...p]);
  normaliseShape(root);
  if (m.isCollection) {
    const star = root.children.get('*');
    return root.children.get('collection') ?? star;
  }
  return root;
}

function emitShape(block: Block, node: Shape): number {
  const entries = [...node.children.entries()];
  const at = block.reserve(1 + 2 * entries.length);
  block.set(at, entries.length);
  entries.forEach(([name, child], i) => {
    if (name === '*') block.set(at + 1 + 2 * i, WILDCARD);
    else block.setRef(at + 1 + 2 * i, block.key(name));
    block.setRef(at + 2 + 2 * i, emitShape(block, child));
  });
  return at;
}

/** Compiles the plan into a relocatable block; `root` is the word index of the plan header. */
export function compilePlan(plan: EndpointTransformPlan): { block: Block; root: number } {
  const block = new Block();
  const n = plan.backends.length;
  const root = block.reserve(3 + 3 * n);
  block.set(root, n);
  block.setRef(root + 2, block.key('collection'));
  const endpointPaths: string[][] = [];
  if (plan.endpointFlatmap) flatmapPaths(plan.endpointFlatmap, endpointPaths);
  plan.backends.forEach((b, i) => {
    block.set(root + 3 + 3 * i, b.isCollection ? 1 : 0);
    const rows = backendProgram(block, b);
    if (rows.length > 0) block.setRef(root + 4 + 3 * i, emitProgram(block, rows));
    const shape = backendShape(b, endpointPaths);
    if (shape) block.setRef(root + 5 + 3 * i, emitShape(block, shape));
  });
  if (plan.endpointFlatmap && plan.endpointFlatmap.length > 0) {
    const rows: number[][] = [];
    emitFlatmap(block, plan.endpointFlatmap, rows);
    block.setRef(root + 1, emitProgram(block, rows));
  }
  return { block, root };
}

export type { Block };
