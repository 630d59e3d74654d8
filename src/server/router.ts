// Route table compiled once: a segment trie where, at each level, a literal segment beats a
// mixed segment (`file.{ext}`, with disable_rest) which beats a `{param}` segment, which beats a
// wildcard (`/*`, the last segment: it takes the rest of the path). So `/api/items/search`,
// `/api/items/{id}` and `/api/*` coexist, the most specific winning (KrakenD CE refuses the first
// two together, KrakenD EE refuses a wildcard beside an exact route).

export interface RouteMatch<T> {
  value: T;
  params: Record<string, string>;
}

export type LookupResult<T> =
  | {
      kind: 'found';
      value: T;
      params: Record<string, string>;
      /** A wildcard route: the rest of the path after its `/*`, as received ('' for `/v1/`). */
      rest?: string;
    }
  | { kind: 'method-not-allowed'; allow: string[] }
  | { kind: 'not-found' };

interface Entry<T> {
  value: T;
  /** Parameter names in order of the captured values. */
  names: string[];
  /** A wildcard route: the value after the params is the rest of the path. */
  wildcard: boolean;
  /** A route without params: its lookup result, made once (its params are empty and frozen). */
  found?: LookupResult<T>;
}

/** The params of every route without params (one frozen object: nothing to check or copy). */
export const NO_PARAMS: Record<string, string> = Object.freeze({}) as Record<string, string>;

interface Mixed<T> {
  re: RegExp;
  names: string[];
  node: Node<T>;
}

interface Node<T> {
  literal: Map<string, Node<T>>;
  mixed: Mixed<T>[];
  param: Node<T> | null;
  /** The routes ending in `/*` here: they match any rest of the path, the empty one included. */
  wildcard: Node<T> | null;
  paramNames: string[];
  methods: Map<string, Entry<T>>;
}

/** A node a path reached, with the param values taken on the way (a wildcard's rest last). */
interface Match<T> {
  node: Node<T>;
  values: string[];
}

/** One walk down the tree for a path and a method. */
interface Walk<T> {
  readonly segments: string[];
  readonly method: string;
  /** The param values taken so far. */
  readonly values: string[];
  /** The first node that matched the path with other methods only (a 405). */
  fallback: Match<T> | null;
}

function newNode<T>(): Node<T> {
  return { literal: new Map(), mixed: [], param: null, wildcard: null, paramNames: [], methods: new Map() };
}

const PARAM_SEGMENT = /^\{([^{}]+)\}$/;
const PARAM_ANYWHERE = /\{([^{}]+)\}/g;

function escapeRegex(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** Splits '/a/b/' into ['a','b',''] — a trailing slash is a distinct route, as in KrakenD. */
export function splitPath(path: string): string[] {
  return path.length <= 1 ? [] : path.slice(1).split('/');
}

export class Router<T> {
  private readonly root: Node<T> = newNode();
  /** Routes without params: one map lookup on the hot path. */
  private readonly exact = new Map<string, Map<string, Entry<T>>>();
  private readonly lowerExact = new Map<string, string>();
  readonly patterns: Array<{ method: string; pattern: string }> = [];

  add(method: string, pattern: string, value: T): void {
    const segments = splitPath(pattern);
    let node = this.root;
    const names: string[] = [];
    let hasParams = false;
    let wildcard = false;
    for (let s = 0; s < segments.length; s++) {
      const seg = segments[s];
      if (seg === '*' && s === segments.length - 1) {
        // The config check refuses a `*` anywhere else; the last one takes the rest of the path.
        hasParams = true;
        wildcard = true;
        node.wildcard ??= newNode();
        node = node.wildcard;
        continue;
      }
      const whole = PARAM_SEGMENT.exec(seg);
      if (whole) {
        hasParams = true;
        names.push(whole[1]);
        node.param ??= newNode();
        node = node.param;
        continue;
      }
      if (seg.includes('{')) {
        hasParams = true;
        const segNames: string[] = [];
        let source = '^';
        let last = 0;
        for (const m of seg.matchAll(PARAM_ANYWHERE)) {
          source += `${escapeRegex(seg.slice(last, m.index))}(.+?)`;
          segNames.push(m[1]);
          last = (m.index ?? 0) + m[0].length;
        }
        source += `${escapeRegex(seg.slice(last))}$`;
        let mixed = node.mixed.find((x) => x.re.source === source);
        if (!mixed) {
          mixed = { re: new RegExp(source), names: segNames, node: newNode() };
          node.mixed.push(mixed);
        }
        names.push(...segNames);
        node = mixed.node;
        continue;
      }
      let next = node.literal.get(seg);
      if (!next) {
        next = newNode();
        node.literal.set(seg, next);
      }
      node = next;
    }
    const entry: Entry<T> = { value, names, wildcard };
    node.methods.set(method, entry);
    if (!hasParams) {
      entry.found = Object.freeze({ kind: 'found', value, params: NO_PARAMS });
      let m = this.exact.get(pattern);
      if (!m) {
        m = new Map();
        this.exact.set(pattern, m);
      }
      m.set(method, entry);
      this.lowerExact.set(pattern.toLowerCase(), pattern);
    }
    this.patterns.push({ method, pattern });
  }

  has(method: string, pattern: string): boolean {
    return this.patterns.some((p) => p.method === method && p.pattern === pattern);
  }

  lookup(method: string, path: string): LookupResult<T> {
    const exact = this.exact.get(path);
    const hit = exact?.get(method)?.found;
    if (hit !== undefined) return hit;
    let methods: Map<string, Entry<T>> | undefined;
    let values: string[] | null = null;
    if (exact !== undefined) {
      methods = exact;
      values = [];
      // A parametrised route may also match this path with the requested method.
      if (!exact.has(method)) {
        const found = this.walk(splitPath(path), method);
        if (found) {
          methods = found.node.methods;
          values = found.values;
        }
      }
    } else {
      const found = this.walk(splitPath(path), method);
      if (found) {
        methods = found.node.methods;
        values = found.values;
      }
    }
    if (!methods || values === null) return { kind: 'not-found' };
    const entry = methods.get(method);
    if (!entry) return { kind: 'method-not-allowed', allow: [...methods.keys()] };
    const params: Record<string, string> = {};
    for (let i = 0; i < entry.names.length; i++) params[entry.names[i]] = values[i];
    if (entry.wildcard)
      return { kind: 'found', value: entry.value, params, rest: values[entry.names.length] };
    return { kind: 'found', value: entry.value, params };
  }

  /**
   * Depth-first walk, most specific first; prefers a node that has the method, else remembers
   * the first node with any method (for 405).
   */
  private walk(segments: string[], method: string): Match<T> | null {
    const walk: Walk<T> = { segments, method, values: [], fallback: null };
    const node = this.visit(this.root, 0, walk);
    if (node) return { node, values: walk.values };
    return walk.fallback;
  }

  private visit(node: Node<T>, i: number, walk: Walk<T>): Node<T> | null {
    const { segments, values } = walk;
    if (i === segments.length) {
      if (node.methods.size === 0) return null;
      if (node.methods.has(walk.method)) return node;
      if (!walk.fallback) walk.fallback = { node, values: values.slice() };
      return null;
    }
    const seg = segments[i];
    const lit = node.literal.get(seg) ?? (seg.includes('%') ? node.literal.get(safeDecode(seg)) : undefined);
    if (lit) {
      const r = this.visit(lit, i + 1, walk);
      if (r) return r;
    }
    if (seg.length === 0) return this.visitWildcard(node, i, walk);
    for (const mixed of node.mixed) {
      const m = mixed.re.exec(seg);
      if (!m) continue;
      const before = values.length;
      for (let k = 1; k < m.length; k++) values.push(safeDecode(m[k]));
      const r = this.visit(mixed.node, i + 1, walk);
      if (r) return r;
      values.length = before;
    }
    if (node.param) {
      values.push(safeDecode(seg));
      const r = this.visit(node.param, i + 1, walk);
      if (r) return r;
      values.pop();
    }
    return this.visitWildcard(node, i, walk);
  }

  /** The least specific match at a level: a wildcard route takes segments i… as its rest. */
  private visitWildcard(node: Node<T>, i: number, walk: Walk<T>): Node<T> | null {
    const wild = node.wildcard;
    if (wild === null) return null;
    const { segments, values } = walk;
    const rest = i === segments.length - 1 ? segments[i] : segments.slice(i).join('/');
    if (wild.methods.has(walk.method)) {
      values.push(rest);
      return wild;
    }
    if (!walk.fallback) walk.fallback = { node: wild, values: [...values, rest] };
    return null;
  }

  /** Case-insensitive lookup of a route without params, for redirect_fixed_path. */
  fixedPath(path: string): string | undefined {
    const hit = this.lowerExact.get(path.toLowerCase());
    return hit !== undefined && hit !== path ? hit : undefined;
  }
}

/**
 * Why a route's params may not reach a url_pattern, or undefined when they may: Lura's router
 * refuses a param that still holds an escape or a `?` or `#` once decoded (luraproject/lura
 * router/gin/engine.go, paramChecker); gw also refuses a `/` (an encoded `%2F`) and the dot
 * segments `.` and `..`, so that a backend that decodes the path once never leaves the
 * url_pattern's prefix.
 */
export function paramsRefusal(params: Record<string, string>): string | undefined {
  for (const name in params) {
    const v = params[name];
    if (v === '.' || v === '..') return 'error: dot segment in url params';
    if (v.includes('%')) {
      const bad = /%(?![0-9A-Fa-f]{2})/.exec(v);
      if (bad !== null)
        return `error: invalid URL escape ${JSON.stringify(v.slice(bad.index, bad.index + 3))}`;
      return 'error: encoded url params';
    }
    if (v.includes('?') || v.includes('#') || v.includes('/')) return 'error: encoded url params';
  }
  return undefined;
}

/**
 * Why the rest of a wildcard route's path may not reach a url_pattern, or undefined when it may.
 * The rest is forwarded as received, escapes included, so it must not climb out of the
 * url_pattern: a `.` or `..` segment (also spelled `%2e`), an encoded `/`, a `\` or an encoded one (which a backend
 * may decode into a separator, then resolve a `..` against), or a broken escape is refused.
 */
export function restRefusal(rest: string): string | undefined {
  if (rest.includes('%')) {
    const bad = /%(?![0-9A-Fa-f]{2})/.exec(rest);
    if (bad !== null)
      return `error: invalid URL escape ${JSON.stringify(rest.slice(bad.index, bad.index + 3))}`;
    if (/%(?:2[Ff]|5[Cc])/.test(rest)) return 'error: encoded path separator in the wildcard path';
  }
  if (rest.includes('\\')) return 'error: backslash in the wildcard path';
  if (!rest.includes('.') && !/%2[Ee]/.test(rest)) return undefined;
  for (const seg of rest.split('/')) {
    const plain = seg.includes('%') ? seg.replace(/%2[Ee]/g, '.') : seg;
    if (plain === '.' || plain === '..') return 'error: dot segment in the wildcard path';
  }
  return undefined;
}

function safeDecode(s: string): string {
  if (!s.includes('%')) return s;
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

/** Go's path.Clean: `.` and `..` resolved, repeated `/` collapsed, no trailing `/`; `.` for nothing. */
export function goPathClean(p: string): string {
  const rooted = p.startsWith('/');
  const out: string[] = [];
  for (const seg of p.split('/')) {
    if (seg === '' || seg === '.') continue;
    if (seg !== '..') out.push(seg);
    else if (out.length > 0 && out[out.length - 1] !== '..') out.pop();
    else if (!rooted) out.push('..');
  }
  const cleaned = (rooted ? '/' : '') + out.join('/');
  return cleaned === '' ? '.' : cleaned;
}

/** Go's path.Clean keeping a trailing slash, as Go's http.Redirect cleans a Location. */
export function cleanKeepingSlash(p: string): string {
  const cleaned = goPathClean(p);
  return p.length > 1 && p.endsWith('/') && !cleaned.endsWith('/') ? `${cleaned}/` : cleaned;
}

/** A request path cleaned as gin's redirectFixedPath cleans it: rooted, its trailing slash kept. */
export function cleanPath(p: string): string {
  return cleanKeepingSlash(p.startsWith('/') ? p : `/${p}`);
}
