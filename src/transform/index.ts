// Response manipulation: the TypeScript reference implementation.
//
// This is the specification the WASM transform (src/transform/wasm, wasm/) is tested against:
// both must give equal output for equal input and config. The rules below follow KrakenD's docs
// ("Data Manipulation", "Array manipulation", "API Composition") and, where the docs are silent,
// what KrakenD's engine (lura + krakend/flatmap) does; where gw deliberately differs, it says so.
//
// PER BACKEND, in this order
//   1. target   Descend into the dot path. A missing step, or a value that is not an object (array,
//               scalar, null) yields {}. `target: ""` = none.
//   2. allow    If the list is non-empty: keep only the listed dot paths. Else `deny` (if
//      / deny   non-empty): remove the listed dot paths. Both go through OBJECTS ONLY (docs:
//               `{"a": [{"a1": 1}]}` does not work as `a.a1`): for allow, a path step that finds an
//               array/scalar drops that key; for deny it leaves the data as is. Allow drops an
//               object that ends with no allowed key (an allowed leaf that is `{}` stays); deny
//               keeps a parent it emptied (`deny a.b` on {a:{b:1}} → {a:{}}). When one entry is a
//               prefix of another (`a`, `a.b`), the broader wins in any order (KrakenD: order-
//               dependent). Segments are split on '.', no escaping; `a..b` names the key ''.
//   3. mapping  Renames top-level keys. Only the first segment of a dotted name counts, on both
//               sides (`{"a.b": "x.y"}` renames a → x). Renaming is simultaneous (`{a:b, b:a}`
//               swaps, `{a:b, b:c}` does not chain). On a name clash a renamed key beats a key that
//               kept its name; between renamed keys the later in the document wins.
//   4. group    Wraps the result under that key, also when the result is {}.
//   A backend-level flatmap_filter (backend extra_config.proxy.flatmap_filter, non-empty)
//   replaces 2 and 3: target → flatmap operations → group.
//   is_collection / safejson: the decoded body goes through `wrapCollection` before step 1:
//   array → {"collection": [...]}, object as is, scalar or null → {"content": value}.
//
// PER ENDPOINT
//   Backend results are merged at the top level with `mergeInto`, in order of arrival (a later
//   result overwrites a key), then the endpoint flatmap_filter runs on the merged object. (KrakenD
//   loads the endpoint flatmap only when the endpoint has more than one backend.)
//
// FLATMAP (`{type, args}` operations, run top-down, each on the previous output)
//   Paths: dot-separated segments. On an array a segment must be a canonical index (`0`, `12`;
//   not `01`, `-1`); on an object it is a key (`0` included). `*` matches every array element and
//   every object key (docs: `a.*.*.*.d`).
//   del [p, ...]        Removes the last segment of each path, at every wildcard match; paths run
//                       one after the other. An array element removed shifts the later ones down
//                       (so `del ["a.0", "a.1"]` removes the original elements 0 and 2). `x.*`
//                       empties x. Missing paths are ignored. The parents stay.
//   move [from, to]     The two paths are split into the leading part they share (the base, which
//                       may hold wildcards; at least the last segment of each stays out of it) and
//                       the rest, which must have no wildcard: otherwise the operation does nothing
//                       (the docs' "No" cases). At every container the base matches: take the value
//                       at `from`, remove it, write it at `to`. Missing object keys on the way to
//                       `to` are created as objects (also for numeric segments); `to` through an
//                       array needs an existing index; through a scalar it fails. A move that cannot
//                       write leaves that container untouched (nothing lost). Missing `from`: nothing.
//   append [from, to]   Same path rules. `from` must be an array. The result at `to` is
//                       from's elements FOLLOWED BY to's (the order the docs' example shows: the
//                       kindergartens precede the schools); a missing `to` counts as []; a `to`
//                       that is not an array makes it do nothing. `from` is removed.
//   A move/append whose two paths are equal does nothing.
//
// KEY ORDER of the output objects (JSON key order matters to the differential tests)
//   gw keeps insertion order and does not sort. Clients must not rely on key order: KrakenD
//   itself returns keys sorted alphabetically (Go marshals maps sorted), gw does not. Precisely:
//   target/deny/allow keep the input's order (allow: the document's order, not the list's);
//   mapping puts a renamed key at its source's position (on a clash: the first one's position);
//   merge keeps the first position of a key and appends new keys; flatmap keeps the position of
//   a key it overwrites and appends a key it creates. A caveat that the WASM side must mirror or
//   normalise: JS objects (JSON.parse included) order integer-like keys ("0", "42") first,
//   ascending; comparing `JSON.stringify(JSON.parse(wasmBytes))` with `JSON.stringify(tsResult)`
//   normalises exactly that.
//
// PURITY
//   No transform mutates its input; results share unchanged subtrees with it. allow and mapping
//   build new objects; target returns the nested object itself; deny copies the objects along
//   the removed paths; flatmap copies each container it changes once per run (copy-on-write).
//   mergeInto mutates its first argument only. Keys such as `__proto__` or `constructor` are
//   plain data everywhere (own properties only; prototypes are never read or set).

export type { FlatmapOp } from './flatmap.js';
export {
  compileFlatmap,
  flatmapFromExtraConfig,
  lintFlatmap,
  splitMovePaths,
  validateFlatmap,
} from './flatmap.js';
export type { BackendManipulation, DataTransform } from './manipulation.js';
export {
  compileAllow,
  compileBackendManipulation,
  compileDeny,
  compileGroup,
  compileMapping,
  compileTarget,
  lintBackendManipulation,
  manipulationFromBackend,
  mergeInto,
  wrapCollection,
} from './manipulation.js';
export { arrayIndex, splitPath } from './paths.js';
