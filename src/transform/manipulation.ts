// Per-backend response manipulation (target, allow, deny, mapping, group) and the endpoint merge.
// The rules, their order and the key order of the results are specified in index.ts.
//
// None of these functions mutates its input: results share unchanged subtrees with the input
// (structural sharing) and build new objects only along the paths they change. This keeps them
// safe on data that is shared (a cached backend response, the `resp0_` values of a sequence).

import type { BackendConfig, ConfigIssue } from '../types.js';
import { compileFlatmap, type FlatmapOp, flatmapFromExtraConfig } from './flatmap.js';
import { getOwn, hasOwnKey, isObject, type JsonObject, setOwn, splitPath } from './paths.js';

export type DataTransform = (data: Record<string, unknown>) => Record<string, unknown>;

export interface BackendManipulation {
  target?: string;
  allow?: string[];
  deny?: string[];
  mapping?: Record<string, string>;
  group?: string;
  /** Backend-level `extra_config.proxy.flatmap_filter`; when set, allow/deny/mapping are ignored. */
  flatmap?: FlatmapOp[];
}

function nonEmptyString(v: unknown): string | undefined {
  return typeof v === 'string' && v !== '' ? v : undefined;
}

function stringList(v: unknown): string[] | undefined {
  if (!Array.isArray(v)) return undefined;
  const out = v.filter((s): s is string => typeof s === 'string');
  return out.length > 0 ? out : undefined;
}

/** Reads the manipulation settings of a backend; absent, empty or ill-typed settings are left out. */
export function manipulationFromBackend(backend: BackendConfig): BackendManipulation {
  const m: BackendManipulation = {};
  const target = nonEmptyString(backend.target);
  if (target !== undefined) m.target = target;
  const allow = stringList(backend.allow);
  if (allow) m.allow = allow;
  const deny = stringList(backend.deny);
  if (deny) m.deny = deny;
  if (isObject(backend.mapping)) {
    const mapping: Record<string, string> = {};
    let any = false;
    for (const k of Object.keys(backend.mapping)) {
      const v = backend.mapping[k];
      if (typeof v === 'string') {
        setOwn(mapping, k, v);
        any = true;
      }
    }
    if (any) m.mapping = mapping;
  }
  const group = nonEmptyString(backend.group);
  if (group !== undefined) m.group = group;
  const flatmap = flatmapFromExtraConfig(backend.extra_config);
  if (flatmap) m.flatmap = flatmap;
  return m;
}

/**
 * Warnings for a backend's manipulation settings that KrakenD accepts but partly ignores:
 * allow together with deny (deny is ignored), a flatmap_filter together with allow, deny or
 * mapping (those are ignored). `path` is the backend's JSON path.
 */
export function lintBackendManipulation(backend: BackendConfig, path: string): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  const m = manipulationFromBackend(backend);
  if (m.flatmap) {
    for (const key of ['allow', 'deny', 'mapping'] as const) {
      if (m[key]) {
        issues.push({
          path: `${path}.${key}`,
          message: `ignored: extra_config.proxy.flatmap_filter replaces allow, deny and mapping`,
        });
      }
    }
  } else if (m.allow && m.deny) {
    issues.push({ path: `${path}.deny`, message: 'ignored: allow and deny cannot be combined; allow wins' });
  }
  return issues;
}

/**
 * Compiles a backend's manipulation into one function, or undefined when it changes nothing.
 * Order: target → (flatmap | allow-or-deny → mapping) → group.
 */
export function compileBackendManipulation(m: BackendManipulation): DataTransform | undefined {
  const steps: DataTransform[] = [];
  if (m.target !== undefined && m.target !== '') steps.push(compileTarget(m.target));
  if (m.flatmap && m.flatmap.length > 0) {
    steps.push(compileFlatmap(m.flatmap));
  } else {
    if (m.allow && m.allow.length > 0) steps.push(compileAllow(m.allow));
    else if (m.deny && m.deny.length > 0) steps.push(compileDeny(m.deny));
    if (m.mapping) {
      const mapping = compileMapping(m.mapping);
      if (mapping) steps.push(mapping);
    }
  }
  if (m.group !== undefined && m.group !== '') steps.push(compileGroup(m.group));
  return chain(steps);
}

function chain(steps: DataTransform[]): DataTransform | undefined {
  switch (steps.length) {
    case 0:
      return undefined;
    case 1:
      return steps[0];
    case 2: {
      const [a, b] = steps;
      return (d) => b(a(d));
    }
    default:
      return (d) => {
        for (let i = 0; i < steps.length; i++) d = steps[i](d);
        return d;
      };
  }
}

/**
 * `target`: descends into the dot path. A missing step, or a step whose value is not an object
 * (an array, a scalar, null), yields `{}`. The result is the nested object itself (shared).
 */
export function compileTarget(target: string): DataTransform {
  const segments = splitPath(target);
  return (data) => {
    let cur: JsonObject = data;
    for (let i = 0; i < segments.length; i++) {
      const next = getOwn(cur, segments[i]);
      if (!isObject(next)) return {};
      cur = next;
    }
    return cur;
  };
}

/** A compiled allow or deny list: key → `true` (the whole value) or a subtree of nested paths. */
export type PathTree = Map<string, PathTree | true>;

/**
 * Builds the path tree of an allow/deny list. When one entry is a prefix of another (`a` and
 * `a.b`), the broader one wins whatever their order (KrakenD's result there depends on the order
 * of the list; gw does not).
 */
export function buildPathTree(paths: readonly string[]): PathTree {
  const root: PathTree = new Map();
  for (const path of paths) {
    const segments = splitPath(path);
    let node = root;
    for (let i = 0; i < segments.length; i++) {
      const seg = segments[i];
      const existing = node.get(seg);
      if (existing === true) break; // a broader entry already covers this one
      if (i === segments.length - 1) {
        node.set(seg, true);
        break;
      }
      if (existing === undefined) {
        const sub: PathTree = new Map();
        node.set(seg, sub);
        node = sub;
      } else {
        node = existing;
      }
    }
  }
  return root;
}

/**
 * `allow`: keeps only the listed dot paths, in the key order of the input document. Paths go
 * through objects only: when a path expects an object and finds an array or a scalar, the key is
 * dropped (KrakenD: "works with objects only and not with arrays"). An object left with no allowed
 * key is dropped from its parent (an allowed leaf that is itself `{}` stays). Builds new objects.
 */
export function compileAllow(paths: readonly string[]): DataTransform {
  const tree = buildPathTree(paths);
  return (data) => allowObject(tree, data) ?? {};
}

/** The allowed part of `obj`, or undefined when nothing in it is allowed. */
function allowObject(tree: PathTree, obj: JsonObject): JsonObject | undefined {
  let out: JsonObject | undefined;
  const keys = Object.keys(obj);
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i];
    const rule = tree.get(key);
    if (rule === undefined) continue;
    const value = obj[key];
    if (rule === true) {
      out ??= {};
      setOwn(out, key, value);
    } else if (isObject(value)) {
      const sub = allowObject(rule, value);
      if (sub !== undefined) {
        out ??= {};
        setOwn(out, key, sub);
      }
    }
  }
  return out;
}

/**
 * `deny`: removes the listed dot paths. Paths go through objects only: an array or a scalar on
 * the way leaves the document unchanged. Parents emptied by a removal stay (as `{}`). The input
 * is not mutated: the objects along a changed path are copied (keys keep their order).
 */
export function compileDeny(paths: readonly string[]): DataTransform {
  const level = denyLevel(buildPathTree(paths));
  return (data) => denyObject(level, data);
}

/** One level of a deny tree: keys removed here, and keys to descend into. */
interface DenyLevel {
  leaves: readonly string[];
  leafSet: ReadonlySet<string>;
  nested: ReadonlyArray<readonly [key: string, level: DenyLevel]>;
}

function denyLevel(tree: PathTree): DenyLevel {
  const leaves: string[] = [];
  const nested: Array<readonly [string, DenyLevel]> = [];
  for (const [key, rule] of tree) {
    if (rule === true) leaves.push(key);
    else nested.push([key, denyLevel(rule)]);
  }
  return { leaves, leafSet: new Set(leaves), nested };
}

/** `obj` itself when nothing is denied in it, else a copy (one pass, keys in order). */
function denyObject(level: DenyLevel, obj: JsonObject): JsonObject {
  let drop = false;
  for (let i = 0; i < level.leaves.length; i++) {
    if (hasOwnKey(obj, level.leaves[i])) {
      drop = true;
      break;
    }
  }
  let changed: Map<string, JsonObject> | undefined;
  for (let i = 0; i < level.nested.length; i++) {
    const [key, sub] = level.nested[i];
    if (!hasOwnKey(obj, key)) continue;
    const value = obj[key];
    if (!isObject(value)) continue;
    const denied = denyObject(sub, value);
    if (denied !== value) {
      changed ??= new Map();
      changed.set(key, denied);
    }
  }
  if (!drop && changed === undefined) return obj;
  const out: JsonObject = {};
  const keys = Object.keys(obj);
  for (let i = 0; i < keys.length; i++) {
    const k = keys[i];
    if (level.leafSet.has(k)) continue;
    setOwn(out, k, changed?.get(k) ?? obj[k]);
  }
  return out;
}

/**
 * `mapping`: renames top-level keys. Only the first segment of a dotted name counts, on either
 * side (`{"a.b": "x.y"}` renames `a` to `x`): mapping never reaches into nested objects.
 *
 * Renaming is simultaneous (each input key is looked up once, so `{a: b, b: a}` swaps and
 * `{a: b, b: c}` does not chain). A renamed key keeps the position of its source key. When
 * several keys end with the same name, a renamed key beats one that kept its name (whatever
 * their order), and between renamed keys the later one in the document wins; the survivor sits at
 * the position of the first of them. Returns the input itself when no source key is present.
 */
/**
 * The renames of a `mapping`: the first segment on both sides, a later entry for the same source
 * winning; identity renames, which change nothing, are left out.
 */
export function mappingRenames(mapping: Readonly<Record<string, string>>): Map<string, string> {
  const renames = new Map<string, string>();
  for (const from of Object.keys(mapping)) {
    const to = mapping[from];
    if (typeof to !== 'string') continue;
    renames.set(splitPath(from)[0], splitPath(to)[0]);
  }
  for (const [from, to] of renames) if (from === to) renames.delete(from);
  return renames;
}

export function compileMapping(mapping: Readonly<Record<string, string>>): DataTransform | undefined {
  const renames = mappingRenames(mapping);
  if (renames.size === 0) return undefined;
  const sources = [...renames.keys()];

  return (data) => {
    let present = false;
    for (let i = 0; i < sources.length; i++) {
      if (hasOwnKey(data, sources[i])) {
        present = true;
        break;
      }
    }
    if (!present) return data;
    const out: JsonObject = {};
    // names written by a renamed key: a key that keeps its name must not overwrite them
    const renamed = new Set<string>();
    const keys = Object.keys(data);
    for (let i = 0; i < keys.length; i++) {
      const key = keys[i];
      const to = renames.get(key);
      if (to !== undefined) {
        setOwn(out, to, data[key]);
        renamed.add(to);
      } else if (!renamed.has(key)) {
        setOwn(out, key, data[key]);
      }
    }
    return out;
  };
}

/** `group`: wraps the whole result under one key (also when it is `{}`). */
export function compileGroup(group: string): DataTransform {
  return (data) => {
    const out: JsonObject = {};
    setOwn(out, group, data);
    return out;
  };
}

/**
 * The endpoint merge step: copies `part`'s top-level keys into `acc` (a later part overwrites
 * a key; an overwritten key keeps its first position). Mutates `acc` only, which the merge owns;
 * values are shared, not copied.
 */
export function mergeInto(acc: Record<string, unknown>, part: Record<string, unknown>): void {
  const keys = Object.keys(part);
  for (let i = 0; i < keys.length; i++) setOwn(acc, keys[i], part[keys[i]]);
}

/**
 * The object a backend's decoded body becomes, as KrakenD's `is_collection` / `safejson` do:
 * an array → `{collection: [...]}`, an object as it is, anything else (string, number, boolean,
 * null) → `{content: value}` (the docs' rule for non-object, non-array values).
 */
export function wrapCollection(value: unknown): Record<string, unknown> {
  if (Array.isArray(value)) return { collection: value };
  if (isObject(value)) return value;
  return { content: value };
}
