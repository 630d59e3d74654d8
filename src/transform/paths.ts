// Dot-path helpers shared by the manipulation and flatmap engines.
//
// Everything here reads and writes *own* properties only: a backend can send any key, including
// `__proto__`, `constructor` or `toString`, and such a key must behave as plain data (never reach
// Object.prototype, never set a prototype).

export type JsonObject = Record<string, unknown>;

/** The flatmap wildcard: matches every index of an array and every key of an object. */
export const WILDCARD = '*';

/** `a.b.c` → ['a', 'b', 'c']. Empty segments are kept (`a..b` names the key ''), as KrakenD's split does. */
export function splitPath(path: string): string[] {
  return path.split('.');
}

/**
 * A number kept as the backend wrote it (JSON.rawJSON, src/proxy/encodings.ts) is an object to
 * JavaScript but a number to a path: never stepped into, never copied.
 */
const isRawJSON: (v: unknown) => boolean =
  (JSON as unknown as { isRawJSON?: (v: unknown) => boolean }).isRawJSON ?? (() => false);

/** A JSON object (not null, not an array, not a kept number). */
export function isObject(v: unknown): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !isRawJSON(v);
}

/** An object or an array: something a path can step into. */
export function isContainer(v: unknown): v is JsonObject | unknown[] {
  return typeof v === 'object' && v !== null && !isRawJSON(v);
}

const hasOwn = Object.prototype.hasOwnProperty;

/** The own property `key` of `obj`, or undefined (never an inherited member). */
export function getOwn(obj: JsonObject, key: string): unknown {
  return hasOwn.call(obj, key) ? obj[key] : undefined;
}

export function hasOwnKey(obj: JsonObject, key: string): boolean {
  return hasOwn.call(obj, key);
}

/** Sets an own data property, also for `__proto__` (where `obj[key] = v` would set the prototype). */
export function setOwn(obj: JsonObject, key: string, value: unknown): void {
  if (key === '__proto__') {
    Object.defineProperty(obj, key, { value, writable: true, enumerable: true, configurable: true });
  } else {
    obj[key] = value;
  }
}

/**
 * A copy of `obj` without `key`, keys in order. Used instead of `delete` on a copy, which would
 * turn the copy into a slow dictionary-mode object.
 */
export function copyWithout(obj: JsonObject, key: string): JsonObject {
  const out: JsonObject = {};
  const keys = Object.keys(obj);
  for (let i = 0; i < keys.length; i++) {
    const k = keys[i];
    if (k !== key) setOwn(out, k, obj[k]);
  }
  return out;
}

/**
 * The array index a segment names, or -1. Only canonical decimal integers count (`0`, `12`;
 * not `01`, `-1`, `1.0`, `+1`), so that `a.01` never silently means `a.0`.
 */
export function arrayIndex(segment: string): number {
  const n = segment.length;
  if (n === 0 || n > 10) return -1;
  const c0 = segment.charCodeAt(0);
  if (c0 < 48 || c0 > 57 || (c0 === 48 && n > 1)) return -1;
  let v = 0;
  for (let i = 0; i < n; i++) {
    const c = segment.charCodeAt(i);
    if (c < 48 || c > 57) return -1;
    v = v * 10 + (c - 48);
  }
  return v <= 0xfffffffe ? v : -1;
}

/** The child of a container named by one path segment (array index or own key), or undefined. */
export function child(container: unknown, segment: string): unknown {
  if (Array.isArray(container)) {
    const i = arrayIndex(segment);
    return i >= 0 && i < container.length ? container[i] : undefined;
  }
  if (isObject(container)) return getOwn(container, segment);
  return undefined;
}

/** Walks `segments` (no wildcards) from `root`; undefined when a step is missing or not a container. */
export function getPath(root: unknown, segments: readonly string[]): unknown {
  let cur = root;
  for (let i = 0; i < segments.length; i++) {
    cur = child(cur, segments[i]);
    if (cur === undefined) return undefined;
  }
  return cur;
}
