// The functions a Flexible Configuration template can call: text/template's builtins
// (text/template/funcs.go), the part of sprig's GenericFuncMap (Masterminds/sprig v3
// functions.go) that configurations use, and krakend-flexibleconfig's own `marshal` and
// `include` (template.go). sprig's functions take their operands loosely (spf13/cast), as here.
// A sprig function not listed is reported by name at parse time, with its file:line:col.

import { createHash, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { posix } from 'node:path';
import type { GoFunc, ParamKind } from './exec.js';
import { sprintf } from './fmt.js';
import {
  byteLength,
  compareStrings,
  deepCopy,
  formatV,
  type GoMap,
  type GoValue,
  goJson,
  goKindName,
  goQuote,
  goTypeName,
  isMap,
  isTrue,
  sortedKeys,
  sprint,
  sprintln,
} from './values.js';

export interface FuncContext {
  env: NodeJS.ProcessEnv;
  /** FC_PARTIALS: where `include` reads from. */
  partials: string;
  /** Called with each file `include` read (for the list of sources a load used). */
  onInclude(file: string): void;
}

const fn = (params: ParamKind[], call: (args: GoValue[]) => GoValue, variadic?: ParamKind): GoFunc => ({
  params,
  variadic,
  call,
});

/** Own-property set that cannot reach Object.prototype (`__proto__` is a key like any other). */
function put(m: GoMap, k: string, v: GoValue): void {
  Object.defineProperty(m, k, { value: v, enumerable: true, writable: true, configurable: true });
}

// ---- sprig's conversions (spf13/cast) ----

export function strval(v: GoValue): string {
  return typeof v === 'string' ? v : formatV(v);
}

function toInt64(v: GoValue): bigint {
  switch (typeof v) {
    case 'bigint':
      return v;
    case 'number':
      return Number.isFinite(v) ? BigInt(Math.trunc(v)) : 0n;
    case 'boolean':
      return v ? 1n : 0n;
    case 'string': {
      const s = v.replace(/\.0*$/, '');
      if (!/^[+-]?(0[xX][0-9a-fA-F]+|0[oO]?[0-7]+|0[bB][01]+|[0-9]+)$/.test(s)) return 0n;
      const neg = s.startsWith('-');
      const body = s.replace(/^[+-]/, '');
      const n = /^0[0-7]+$/.test(body) ? BigInt(`0o${body.slice(1)}`) : BigInt(body);
      return neg ? -n : n;
    }
  }
  return 0n;
}

function toFloat64(v: GoValue): number {
  switch (typeof v) {
    case 'bigint':
      return Number(v);
    case 'number':
      return v;
    case 'boolean':
      return v ? 1 : 0;
    case 'string': {
      const n = Number(v.trim());
      return v.trim() === '' || Number.isNaN(n) ? 0 : n;
    }
  }
  return 0;
}

function list(v: GoValue, what: string): GoValue[] {
  if (Array.isArray(v)) return v;
  throw new Error(`Cannot ${what} on type ${goTypeName(v)}`);
}

function dictOf(v: GoValue, what: string): GoMap {
  if (isMap(v)) return v;
  throw new Error(`${what}: expected a map, got ${goTypeName(v)}`);
}

/** sprig's empty: the zero value of its type. */
function empty(v: GoValue): boolean {
  return !isTrue(v);
}

/** sprig's strslice: a list as strings, nil elements left out. */
function strslice(v: GoValue): string[] {
  if (Array.isArray(v)) return v.filter((e) => e !== null && e !== undefined).map(strval);
  if (v === null || v === undefined) return [];
  return [strval(v)];
}

function deepEqual(a: GoValue, b: GoValue): boolean {
  return goJsonSafe(a) === goJsonSafe(b) && goTypeName(a) === goTypeName(b);
}

function goJsonSafe(v: GoValue): string {
  try {
    return goJson(v);
  } catch {
    return formatV(v);
  }
}

/** mergo.Merge as sprig's merge uses it: keys missing (or empty) in dst are taken from src, deeply. */
function mergeInto(dst: GoMap, src: GoMap, overwrite: boolean): void {
  for (const k of Object.keys(src)) {
    const s = src[k];
    const d = dst[k];
    if (isMap(d) && isMap(s)) mergeInto(d, s, overwrite);
    else if (!Object.hasOwn(dst, k) || empty(d) || (overwrite && !empty(s))) put(dst, k, deepCopy(s));
  }
}

// ---- text/template builtins ----

/** funcs.go basicKind, for eq/lt: the kinds that compare, and Go's errors for the others. */
function basicKind(v: GoValue): 'bool' | 'int' | 'float' | 'string' | 'nil' | 'other' {
  if (v === null || v === undefined) return 'nil';
  switch (typeof v) {
    case 'boolean':
      return 'bool';
    case 'bigint':
      return 'int';
    case 'number':
      return 'float';
    case 'string':
      return 'string';
  }
  return 'other';
}

function eq(a: GoValue, ...rest: GoValue[]): boolean {
  const k1 = basicKind(a);
  for (const b of rest) {
    const k2 = basicKind(b);
    let truth = false;
    if (k1 !== k2) {
      if (k1 !== 'nil' && k2 !== 'nil') throw new Error('incompatible types for comparison');
    } else if (k1 === 'other') {
      throw new Error(`non-comparable type ${formatV(a)}: ${goTypeName(a)}`);
    } else if (k1 === 'nil') {
      truth = true;
    } else {
      truth = a === b;
    }
    if (truth) return true;
  }
  return false;
}

function lt(a: GoValue, b: GoValue): boolean {
  const k1 = basicKind(a);
  const k2 = basicKind(b);
  if (k1 === 'bool' || k1 === 'nil' || k1 === 'other' || k2 === 'bool' || k2 === 'nil' || k2 === 'other')
    throw new Error('invalid type for comparison');
  if (k1 !== k2) throw new Error('incompatible types for comparison');
  if (k1 === 'string') return compareStrings(a as string, b as string) < 0;
  return (a as number) < (b as number);
}

function indexOf(item: GoValue, ...indexes: GoValue[]): GoValue {
  let v = item;
  for (const ix of indexes) {
    if (v === null || v === undefined) throw new Error('index of untyped nil');
    if (Array.isArray(v) || typeof v === 'string') {
      if (typeof ix !== 'bigint') throw new Error(`cannot index slice/array with type ${goTypeName(ix)}`);
      const len = typeof v === 'string' ? byteLength(v) : v.length;
      if (ix < 0n || ix >= BigInt(len)) throw new Error(`index out of range: ${ix}`);
      v = typeof v === 'string' ? BigInt(Buffer.from(v, 'utf8')[Number(ix)]) : v[Number(ix)];
    } else if (isMap(v)) {
      if (typeof ix !== 'string')
        throw new Error(
          ix === null || ix === undefined
            ? 'value is nil; should be of type string'
            : `value has type ${goTypeName(ix)}; should be string`,
        );
      v = Object.hasOwn(v, ix) ? v[ix] : null;
    } else {
      throw new Error(`can't index item of type ${goTypeName(v)}`);
    }
  }
  return v;
}

function goLen(v: GoValue): bigint {
  if (typeof v === 'string') return BigInt(byteLength(v));
  if (Array.isArray(v)) return BigInt(v.length);
  if (isMap(v)) return BigInt(Object.keys(v).length);
  throw new Error(`len of ${v === null || v === undefined ? 'nil pointer' : `type ${goTypeName(v)}`}`);
}

/** funcs.go evalArgs: one string as is, anything else as fmt.Sprint prints it. */
function evalArgs(args: GoValue[]): string {
  return args.length === 1 && typeof args[0] === 'string' ? args[0] : sprint(args);
}

function htmlEscape(s: string): string {
  return s.replace(
    /["'&<>]/g,
    (c) => ({ '"': '&#34;', "'": '&#39;', '&': '&amp;', '<': '&lt;', '>': '&gt;' })[c] as string,
  );
}

function jsEscape(s: string): string {
  let out = '';
  for (const ch of s) {
    const c = ch.codePointAt(0) as number;
    if (ch === '\\') out += '\\\\';
    else if (ch === "'") out += "\\'";
    else if (ch === '"') out += '\\"';
    else if (ch === '<') out += '\\x3C';
    else if (ch === '>') out += '\\x3E';
    else if (c < 0x20) out += `\\u00${c.toString(16).toUpperCase().padStart(2, '0')}`;
    else if (c >= 0x80 && (c < 0xa0 || c === 0x2028 || c === 0x2029 || c === 0xad || c === 0xfeff))
      out += `\\u${c.toString(16).toUpperCase().padStart(4, '0')}`;
    else out += ch;
  }
  return out;
}

/** url.QueryEscape. */
function queryEscape(s: string): string {
  return encodeURIComponent(s)
    .replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)
    .replace(/%20/g, '+')
    .replace(/~/g, '%7E');
}

/** os.ExpandEnv: $VAR and ${VAR}. */
function expandEnv(s: string, env: NodeJS.ProcessEnv): string {
  return s.replace(/\$(\{([^}]*)\}|[A-Za-z0-9_]+|[*#$@!?\-0-9])/g, (_m, _a, braced: string | undefined) => {
    const name = braced ?? _a;
    return env[name] ?? '';
  });
}

function goRegex(re: string, flags = ''): RegExp {
  // RE2's inline flags at the start ((?i), (?s), (?m)) as JavaScript flags.
  let src = re;
  let f = flags;
  const m = /^\(\?([imsU]+)\)/.exec(src);
  if (m) {
    src = src.slice(m[0].length);
    for (const x of m[1]) if (x !== 'U' && !f.includes(x)) f += x;
  }
  return new RegExp(src, f);
}

/** Go's regexp Expand syntax ($1, ${1}, ${name}) as JavaScript's replacement syntax. */
function goReplacement(repl: string): string {
  return repl.replace(/\$\$|\$\{(\w+)\}|\$(\w+)/g, (m, braced?: string, bare?: string) => {
    if (m === '$$') return '$$';
    const name = braced ?? (bare as string);
    return /^\d+$/.test(name) ? `$${name}` : `$<${name}>`;
  });
}

function substr(start: bigint, end: bigint, s: string): string {
  const len = BigInt(s.length);
  if (start < 0n) return s.slice(0, Number(end));
  if (end < 0n || end > len) return s.slice(Number(start));
  return s.slice(Number(start), Number(end));
}

/**
 * sprig's GenericFuncMap names gw does not provide (dates, randomness, crypto, network,
 * semver): named as such when a template calls one, rather than as an unknown function.
 */
const SPRIG_NOT_PROVIDED = new Set(
  [
    'ago date date_in_zone date_modify dateInZone dateModify duration durationRound htmlDate',
    'htmlDateInZone must_date_modify mustDateModify mustToDate now toDate unixEpoch',
    'randAlphaNum randAlpha randAscii randNumeric randInt randBytes shuffle swapcase',
    'toDecimal getHostByName bcrypt htpasswd genPrivateKey derivePassword',
    'buildCustomCert genCA genCAWithKey genSelfSignedCert genSelfSignedCertWithKey genSignedCert',
    'genSignedCertWithKey encryptAES decryptAES semver semverCompare urlParse urlJoin',
    'abbrevboth',
  ]
    .join(' ')
    .split(' '),
);

/** The end of the "function not defined" message for a name a template called. */
export function whyNotDefined(name: string): string {
  return SPRIG_NOT_PROVIDED.has(name)
    ? ': a sprig function gw does not provide (docs/compatibility.md lists those it does)'
    : '';
}

/** The functions for one Flexible Configuration render. */
export function makeFuncs(ctx: FuncContext): Map<string, GoFunc> {
  const m = new Map<string, GoFunc>();
  const def = (names: string | string[], f: GoFunc) => {
    for (const n of Array.isArray(names) ? names : [names]) m.set(n, f);
  };
  const A: ParamKind = 'any';
  const S: ParamKind = 'string';
  const I: ParamKind = 'int';

  // text/template builtins (funcs.go). `and`/`or` are evaluated lazily by the executor.
  def(
    'and',
    fn([A], () => null, A),
  );
  def(
    'or',
    fn([A], () => null, A),
  );
  def(
    'not',
    fn([A], ([v]) => !isTrue(v)),
  );
  def(
    'len',
    fn([A], ([v]) => goLen(v)),
  );
  def(
    'index',
    fn([A], ([item, ...ix]) => indexOf(item, ...ix), A),
  );
  def(
    'print',
    fn([], (a) => sprint(a), A),
  );
  def(
    'println',
    fn([], (a) => sprintln(a), A),
  );
  def(
    'printf',
    fn([S], ([f, ...a]) => sprintf(f as string, a), A),
  );
  def(
    'html',
    fn([], (a) => htmlEscape(evalArgs(a)), A),
  );
  def(
    'js',
    fn([], (a) => jsEscape(evalArgs(a)), A),
  );
  def(
    'urlquery',
    fn([], (a) => queryEscape(evalArgs(a)), A),
  );
  def(
    'eq',
    fn(
      [A],
      ([a, ...rest]) => {
        if (rest.length === 0) throw new Error('missing argument for comparison');
        return eq(a, ...rest);
      },
      A,
    ),
  );
  def(
    'ne',
    fn([A, A], ([a, b]) => !eq(a, b)),
  );
  def(
    'lt',
    fn([A, A], ([a, b]) => lt(a, b)),
  );
  def(
    'le',
    fn([A, A], ([a, b]) => lt(a, b) || eq(a, b)),
  );
  def(
    'gt',
    fn([A, A], ([a, b]) => !(lt(a, b) || eq(a, b))),
  );
  def(
    'ge',
    fn([A, A], ([a, b]) => !lt(a, b)),
  );

  // krakend-flexibleconfig (template.go): marshal is json.Marshal with its error ignored;
  // include pastes a partial file as it is, never templated.
  def(
    'marshal',
    fn([A], ([v]) => {
      try {
        return goJson(v);
      } catch {
        return '';
      }
    }),
  );
  def(
    'include',
    fn([A], ([v]) => {
      if (typeof v !== 'string') throw new Error(`the partial's name must be a string, got ${goTypeName(v)}`);
      const file = posix.join(ctx.partials, v);
      ctx.onInclude(file);
      try {
        return readFileSync(file, 'utf8');
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        throw new Error(
          `cannot read partial ${file}: ${code === 'ENOENT' ? 'no such file' : (err as Error).message}`,
        );
      }
    }),
  );

  // sprig: strings.
  def(
    'hello',
    fn([], () => 'Hello!'),
  );
  def(
    'trim',
    fn([S], ([s]) => (s as string).trim()),
  );
  def(
    'upper',
    fn([S], ([s]) => (s as string).toUpperCase()),
  );
  def(
    'lower',
    fn([S], ([s]) => (s as string).toLowerCase()),
  );
  def(
    'title',
    fn([S], ([s]) =>
      (s as string).replace(/(^|[^\p{L}\p{N}_'])(\p{L})/gu, (_x, p, c) => p + c.toUpperCase()),
    ),
  );
  def(
    'untitle',
    fn([S], ([s]) => (s as string).replace(/(^|\s)(\p{L})/gu, (_x, p, c) => p + c.toLowerCase())),
  );
  def(
    'substr',
    fn([I, I, S], ([a, b, s]) => substr(a as bigint, b as bigint, s as string)),
  );
  def(
    'repeat',
    fn([I, S], ([n, s]) => (s as string).repeat(Math.max(0, Number(n)))),
  );
  def(
    ['trimall', 'trimAll'],
    fn([S, S], ([cut, s]) => {
      const set = new Set(cut as string);
      const chars = [...(s as string)];
      let a = 0;
      let b = chars.length;
      while (a < b && set.has(chars[a])) a++;
      while (b > a && set.has(chars[b - 1])) b--;
      return chars.slice(a, b).join('');
    }),
  );
  def(
    'trimSuffix',
    fn([S, S], ([x, s]) =>
      (s as string).endsWith(x as string) && x
        ? (s as string).slice(0, -(x as string).length)
        : (s as string),
    ),
  );
  def(
    'trimPrefix',
    fn([S, S], ([x, s]) =>
      (s as string).startsWith(x as string) ? (s as string).slice((x as string).length) : (s as string),
    ),
  );
  def(
    'nospace',
    fn([S], ([s]) => (s as string).replace(/\s+/g, '')),
  );
  def(
    'trunc',
    fn([I, S], ([n, s]) => {
      const str = s as string;
      const c = Number(n);
      if (c < 0 && str.length + c > 0) return str.slice(str.length + c);
      if (c >= 0 && str.length > c) return str.slice(0, c);
      return str;
    }),
  );
  def(
    'abbrev',
    fn([I, S], ([w, s]) => {
      const str = s as string;
      const width = Number(w);
      if (width < 4 || str.length <= width) return str;
      return `${str.slice(0, width - 3)}...`;
    }),
  );
  def(
    'contains',
    fn([S, S], ([sub, s]) => (s as string).includes(sub as string)),
  );
  def(
    'hasPrefix',
    fn([S, S], ([p, s]) => (s as string).startsWith(p as string)),
  );
  def(
    'hasSuffix',
    fn([S, S], ([p, s]) => (s as string).endsWith(p as string)),
  );
  def(
    'quote',
    fn(
      [],
      (a) =>
        a
          .filter((v) => v !== null && v !== undefined)
          .map((v) => goQuote(strval(v)))
          .join(' '),
      A,
    ),
  );
  def(
    'squote',
    fn(
      [],
      (a) =>
        a
          .filter((v) => v !== null && v !== undefined)
          .map((v) => `'${strval(v)}'`)
          .join(' '),
      A,
    ),
  );
  def(
    'cat',
    fn(
      [],
      (a) =>
        a
          .filter((v) => v !== null && v !== undefined)
          .map(strval)
          .join(' '),
      A,
    ),
  );
  def(
    'indent',
    fn([I, S], ([n, s]) => {
      const pad = ' '.repeat(Number(n));
      return pad + (s as string).replace(/\n/g, `\n${pad}`);
    }),
  );
  def(
    'nindent',
    fn([I, S], ([n, s]) => {
      const pad = ' '.repeat(Number(n));
      return `\n${pad}${(s as string).replace(/\n/g, `\n${pad}`)}`;
    }),
  );
  def(
    'replace',
    fn([S, S, S], ([o, n, s]) => (s as string).split(o as string).join(n as string)),
  );
  def(
    'plural',
    fn([S, S, I], ([one, many, n]) => (n === 1n ? one : many)),
  );
  def(
    'sha1sum',
    fn([S], ([s]) =>
      createHash('sha1')
        .update(s as string)
        .digest('hex'),
    ),
  );
  def(
    'sha256sum',
    fn([S], ([s]) =>
      createHash('sha256')
        .update(s as string)
        .digest('hex'),
    ),
  );
  def(
    'sha512sum',
    fn([S], ([s]) =>
      createHash('sha512')
        .update(s as string)
        .digest('hex'),
    ),
  );
  def(
    'toString',
    fn([A], ([v]) => strval(v)),
  );
  def(
    'toStrings',
    fn([A], ([v]) => strslice(v)),
  );
  def(
    'atoi',
    fn([S], ([s]) => (/^[+-]?\d+$/.test(s as string) ? BigInt(s as string) : 0n)),
  );
  def(
    ['int', 'int64'],
    fn([A], ([v]) => toInt64(v)),
  );
  def(
    'float64',
    fn([A], ([v]) => toFloat64(v)),
  );
  def(
    'split',
    fn([S, S], ([sep, s]) => {
      const out: GoMap = {};
      for (const [i, p] of (s as string).split(sep as string).entries()) put(out, `_${i}`, p);
      return out;
    }),
  );
  def(
    'splitList',
    fn([S, S], ([sep, s]) => (s as string).split(sep as string)),
  );
  def(
    'splitn',
    fn([S, I, S], ([sep, n, s]) => {
      const parts = (s as string).split(sep as string);
      const k = Number(n);
      const kept =
        k > 0 && parts.length > k
          ? [...parts.slice(0, k - 1), parts.slice(k - 1).join(sep as string)]
          : parts;
      const out: GoMap = {};
      for (const [i, p] of kept.entries()) put(out, `_${i}`, p);
      return out;
    }),
  );
  def(
    'join',
    fn([S, A], ([sep, v]) => strslice(v).join(sep as string)),
  );
  def(
    'sortAlpha',
    fn([A], ([v]) => strslice(v).sort(compareStrings)),
  );
  def(
    'wrap',
    fn([I, S], ([n, s]) => wrap(s as string, Number(n), '\n')),
  );
  def(
    'wrapWith',
    fn([I, S, S], ([n, sep, s]) => wrap(s as string, Number(n), sep as string)),
  );
  def(
    'snakecase',
    fn([S], ([s]) =>
      words(s as string)
        .map((w) => w.toLowerCase())
        .join('_'),
    ),
  );
  def(
    'kebabcase',
    fn([S], ([s]) =>
      words(s as string)
        .map((w) => w.toLowerCase())
        .join('-'),
    ),
  );
  def(
    'camelcase',
    fn([S], ([s]) =>
      words(s as string)
        .map((w) => w[0].toUpperCase() + w.slice(1).toLowerCase())
        .join(''),
    ),
  );
  def(
    'initials',
    fn([S], ([s]) =>
      (s as string)
        .split(/\s+/)
        .filter(Boolean)
        .map((w) => [...w][0])
        .join(''),
    ),
  );

  // sprig: integer and float math.
  def(
    'add',
    fn([], (a) => a.reduce<bigint>((s, v) => s + toInt64(v), 0n), A),
  );
  def(
    'add1',
    fn([A], ([v]) => toInt64(v) + 1n),
  );
  def(
    'sub',
    fn([A, A], ([a, b]) => toInt64(a) - toInt64(b)),
  );
  def(
    'mul',
    fn([A], ([a, ...r]) => r.reduce<bigint>((s, v) => s * toInt64(v), toInt64(a)), A),
  );
  def(
    'div',
    fn([A, A], ([a, b]) => {
      if (toInt64(b) === 0n) throw new Error('runtime error: integer divide by zero');
      return toInt64(a) / toInt64(b);
    }),
  );
  def(
    'mod',
    fn([A, A], ([a, b]) => {
      if (toInt64(b) === 0n) throw new Error('runtime error: integer divide by zero');
      return toInt64(a) % toInt64(b);
    }),
  );
  def(
    ['max', 'biggest'],
    fn([A], ([a, ...r]) => r.reduce<bigint>((s, v) => (toInt64(v) > s ? toInt64(v) : s), toInt64(a)), A),
  );
  def(
    'min',
    fn([A], ([a, ...r]) => r.reduce<bigint>((s, v) => (toInt64(v) < s ? toInt64(v) : s), toInt64(a)), A),
  );
  def(
    'add1f',
    fn([A], ([v]) => toFloat64(v) + 1),
  );
  def(
    'addf',
    fn([], (a) => a.reduce<number>((s, v) => s + toFloat64(v), 0), A),
  );
  def(
    'subf',
    fn([A], ([a, ...r]) => r.reduce<number>((s, v) => s - toFloat64(v), toFloat64(a)), A),
  );
  def(
    'mulf',
    fn([A], ([a, ...r]) => r.reduce<number>((s, v) => s * toFloat64(v), toFloat64(a)), A),
  );
  def(
    'divf',
    fn([A], ([a, ...r]) => r.reduce<number>((s, v) => s / toFloat64(v), toFloat64(a)), A),
  );
  def(
    'maxf',
    fn([A], ([a, ...r]) => Math.max(toFloat64(a), ...r.map(toFloat64)), A),
  );
  def(
    'minf',
    fn([A], ([a, ...r]) => Math.min(toFloat64(a), ...r.map(toFloat64)), A),
  );
  def(
    'floor',
    fn([A], ([v]) => Math.floor(toFloat64(v))),
  );
  def(
    'ceil',
    fn([A], ([v]) => Math.ceil(toFloat64(v))),
  );
  def(
    'round',
    fn(
      [A, I],
      ([v, p]) => {
        const k = 10 ** Number(p);
        const x = toFloat64(v) * k;
        return (x < 0 ? -Math.round(-x) : Math.round(x)) / k;
      },
      'float',
    ),
  );
  def(
    'until',
    fn([I], ([n]) => range(0n, n as bigint, (n as bigint) < 0n ? -1n : 1n)),
  );
  def(
    'untilStep',
    fn([I, I, I], ([a, b, s]) => range(a as bigint, b as bigint, s as bigint)),
  );
  def(
    'seq',
    fn(
      [],
      (a) => {
        const n = a.map(toInt64);
        const [start, step, end] =
          n.length === 1
            ? [1n, 1n, n[0]]
            : n.length === 2
              ? [n[0], n[0] <= n[1] ? 1n : -1n, n[1]]
              : [n[0], n[1], n[2]];
        if (step === 0n || (step > 0n && start > end) || (step < 0n && start < end)) return '';
        const out: string[] = [];
        for (let i = start; step > 0n ? i <= end : i >= end; i += step) out.push(i.toString());
        return out.join(' ');
      },
      A,
    ),
  );

  // sprig: defaults, JSON, flow.
  def(
    'default',
    fn([A], ([d, ...given]) => (given.length === 0 || empty(given[0]) ? d : given[0]), A),
  );
  def(
    'empty',
    fn([A], ([v]) => empty(v)),
  );
  def(
    'coalesce',
    fn([], (a) => a.find((v) => !empty(v)) ?? null, A),
  );
  def(
    'all',
    fn([], (a) => a.every((v) => !empty(v)), A),
  );
  def(
    'any',
    fn([], (a) => a.some((v) => !empty(v)), A),
  );
  def(
    'ternary',
    fn([A, A, 'bool'], ([t, f, c]) => (c ? t : f)),
  );
  def(
    ['fromJson', 'mustFromJson'],
    fn([S], ([s]) => {
      try {
        return JSON.parse(s as string) as GoValue;
      } catch (err) {
        if (s === '') return null;
        throw new Error(`fromJson: ${(err as Error).message}`);
      }
    }),
  );
  def(
    ['toJson', 'mustToJson'],
    fn([A], ([v]) => goJson(v)),
  );
  def(
    ['toPrettyJson', 'mustToPrettyJson'],
    fn([A], ([v]) => goJson(v, '  ')),
  );
  def(
    ['toRawJson', 'mustToRawJson'],
    fn([A], ([v]) => goJson(v, '', false)),
  );
  def(
    ['deepCopy', 'mustDeepCopy'],
    fn([A], ([v]) => deepCopy(v)),
  );
  def(
    'deepEqual',
    fn([A, A], ([a, b]) => deepEqual(a, b)),
  );
  def(
    'fail',
    fn([S], ([msg]) => {
      throw new Error(msg as string);
    }),
  );
  def(
    'typeOf',
    fn([A], ([v]) => goTypeName(v)),
  );
  def(
    'typeIs',
    fn([S, A], ([t, v]) => t === goTypeName(v)),
  );
  def(
    'typeIsLike',
    fn([S, A], ([t, v]) => t === goTypeName(v) || t === `*${goTypeName(v)}`),
  );
  def(
    'kindOf',
    fn([A], ([v]) => goKindName(v)),
  );
  def(
    'kindIs',
    fn([S, A], ([k, v]) => k === goKindName(v)),
  );

  // sprig: OS and paths.
  def(
    'env',
    fn([S], ([name]) => ctx.env[name as string] ?? ''),
  );
  def(
    'expandenv',
    fn([S], ([s]) => expandEnv(s as string, ctx.env)),
  );
  def(
    'base',
    fn([S], ([p]) => (p === '' ? '.' : posix.basename(p as string) || '/')),
  );
  def(
    'dir',
    fn([S], ([p]) => posix.dirname(p as string)),
  );
  def(
    'clean',
    fn([S], ([p]) => (p === '' ? '.' : posix.normalize(p as string).replace(/(.)\/$/, '$1'))),
  );
  def(
    'ext',
    fn([S], ([p]) => posix.extname(p as string)),
  );
  def(
    'isAbs',
    fn([S], ([p]) => posix.isAbsolute(p as string)),
  );
  def('osBase', m.get('base') as GoFunc);
  def('osDir', m.get('dir') as GoFunc);
  def('osClean', m.get('clean') as GoFunc);
  def('osExt', m.get('ext') as GoFunc);
  def('osIsAbs', m.get('isAbs') as GoFunc);

  // sprig: encodings, ids, regular expressions.
  def(
    'b64enc',
    fn([S], ([s]) => Buffer.from(s as string, 'utf8').toString('base64')),
  );
  def(
    'b32enc',
    fn([S], ([s]) => base32(Buffer.from(s as string, 'utf8'))),
  );
  def(
    'b32dec',
    fn([S], ([s]) => unbase32(s as string)),
  );
  def(
    'adler32sum',
    fn([S], ([s]) => adler32(Buffer.from(s as string, 'utf8')).toString()),
  );
  def(
    'b64dec',
    fn([S], ([s]) => {
      if (!/^[A-Za-z0-9+/]*={0,2}$/.test(s as string) || (s as string).length % 4 !== 0)
        return 'illegal base64 data at input byte 0';
      return Buffer.from(s as string, 'base64').toString('utf8');
    }),
  );
  def(
    'uuidv4',
    fn([], () => randomUUID()),
  );
  def(
    'regexMatch',
    // sprig's regexMatch answers false for a pattern that does not compile; mustRegexMatch fails.
    fn([S, S], ([re, s]) => {
      try {
        return goRegex(re as string).test(s as string);
      } catch {
        return false;
      }
    }),
  );
  def(
    'mustRegexMatch',
    fn([S, S], ([re, s]) => goRegex(re as string).test(s as string)),
  );
  def(
    ['regexFind', 'mustRegexFind'],
    fn([S, S], ([re, s]) => goRegex(re as string).exec(s as string)?.[0] ?? ''),
  );
  def(
    ['regexFindAll', 'mustRegexFindAll'],
    fn([S, S, I], ([re, s, n]) => {
      const all = [...(s as string).matchAll(goRegex(re as string, 'g'))].map((x) => x[0]);
      return Number(n) < 0 ? all : all.slice(0, Number(n));
    }),
  );
  def(
    ['regexReplaceAll', 'mustRegexReplaceAll'],
    fn([S, S, S], ([re, s, r]) =>
      (s as string).replace(goRegex(re as string, 'g'), goReplacement(r as string)),
    ),
  );
  def(
    ['regexReplaceAllLiteral', 'mustRegexReplaceAllLiteral'],
    fn([S, S, S], ([re, s, r]) => (s as string).replace(goRegex(re as string, 'g'), () => r as string)),
  );
  def(
    ['regexSplit', 'mustRegexSplit'],
    fn([S, S, I], ([re, s, n]) => {
      const parts = (s as string).split(goRegex(re as string, 'g'));
      return Number(n) < 0 ? parts : parts.slice(0, Number(n));
    }),
  );
  def(
    'regexQuoteMeta',
    fn([S], ([s]) => (s as string).replace(/[\\.+*?()|[\]{}^$]/g, '\\$&')),
  );

  // sprig: lists.
  def(
    ['list', 'tuple'],
    fn([], (a) => [...a], A),
  );
  def(
    ['first', 'mustFirst'],
    fn([A], ([l]) => list(l, 'find first').at(0) ?? null),
  );
  def(
    ['last', 'mustLast'],
    fn([A], ([l]) => list(l, 'find last').at(-1) ?? null),
  );
  def(
    ['rest', 'mustRest'],
    fn([A], ([l]) => list(l, 'find rest').slice(1)),
  );
  def(
    ['initial', 'mustInitial'],
    fn([A], ([l]) => list(l, 'find initial').slice(0, -1)),
  );
  def(
    ['reverse', 'mustReverse'],
    fn([A], ([l]) => [...list(l, 'find reverse')].reverse()),
  );
  def(
    ['append', 'push', 'mustAppend', 'mustPush'],
    fn([A, A], ([l, v]) => [...list(l, 'append'), v]),
  );
  def(
    ['prepend', 'mustPrepend'],
    fn([A, A], ([l, v]) => [v, ...list(l, 'prepend')]),
  );
  def(
    'concat',
    fn([], (a) => a.flatMap((l) => list(l, 'concat')), A),
  );
  def(
    ['uniq', 'mustUniq'],
    fn([A], ([l]) => {
      const out: GoValue[] = [];
      for (const v of list(l, 'uniq')) if (!out.some((o) => deepEqual(o, v))) out.push(v);
      return out;
    }),
  );
  def(
    ['compact', 'mustCompact'],
    fn([A], ([l]) => list(l, 'compact').filter((v) => !empty(v))),
  );
  def(
    ['without', 'mustWithout'],
    fn([A], ([l, ...omit]) => list(l, 'find without').filter((v) => !omit.some((o) => deepEqual(o, v))), A),
  );
  def(
    ['has', 'mustHas'],
    fn([A, A], ([needle, l]) =>
      l === null || l === undefined ? false : list(l, 'find has').some((v) => deepEqual(v, needle)),
    ),
  );
  // sprig's slice replaces text/template's: lists only.
  def(
    ['slice', 'mustSlice'],
    fn(
      [A],
      ([l, ...ix]) => {
        const arr = list(l, 'slice');
        const a = ix.length > 0 ? Number(toInt64(ix[0])) : 0;
        const b = ix.length > 1 ? Number(toInt64(ix[1])) : arr.length;
        return arr.slice(a, b);
      },
      A,
    ),
  );
  def(
    ['chunk', 'mustChunk'],
    fn([I, A], ([n, l]) => {
      const arr = list(l, 'chunk');
      const size = Number(n);
      const out: GoValue[] = [];
      for (let i = 0; i < arr.length; i += size) out.push(arr.slice(i, i + size));
      return out;
    }),
  );

  // sprig: dicts.
  def(
    'dict',
    fn(
      [],
      (a) => {
        const out: GoMap = {};
        for (let i = 0; i < a.length; i += 2) put(out, strval(a[i]), i + 1 < a.length ? a[i + 1] : '');
        return out;
      },
      A,
    ),
  );
  def(
    'get',
    fn([A, S], ([d, k]) => {
      const map = dictOf(d, 'get');
      return Object.hasOwn(map, k as string) ? map[k as string] : '';
    }),
  );
  def(
    'set',
    fn([A, S, A], ([d, k, v]) => {
      const map = dictOf(d, 'set');
      put(map, k as string, v);
      return map;
    }),
  );
  def(
    'unset',
    fn([A, S], ([d, k]) => {
      const map = dictOf(d, 'unset');
      delete map[k as string];
      return map;
    }),
  );
  def(
    'hasKey',
    fn([A, S], ([d, k]) => Object.hasOwn(dictOf(d, 'hasKey'), k as string)),
  );
  // Go's map order is random, so sprig's keys has no order; here it is sorted.
  def(
    'keys',
    fn([], (a) => a.flatMap((d) => sortedKeys(dictOf(d, 'keys'))), A),
  );
  def(
    'values',
    fn([A], ([d]) => {
      const map = dictOf(d, 'values');
      return sortedKeys(map).map((k) => map[k]);
    }),
  );
  def(
    'pluck',
    fn(
      [S],
      ([k, ...ds]) =>
        ds
          .map((d) => dictOf(d, 'pluck'))
          .filter((d) => Object.hasOwn(d, k as string))
          .map((d) => d[k as string]),
      A,
    ),
  );
  def(
    'pick',
    fn(
      [A],
      ([d, ...ks]) => {
        const map = dictOf(d, 'pick');
        const out: GoMap = {};
        for (const k of ks.map(strval)) if (Object.hasOwn(map, k)) put(out, k, map[k]);
        return out;
      },
      A,
    ),
  );
  def(
    'omit',
    fn(
      [A],
      ([d, ...ks]) => {
        const map = dictOf(d, 'omit');
        const drop = new Set(ks.map(strval));
        const out: GoMap = {};
        for (const k of Object.keys(map)) if (!drop.has(k)) put(out, k, map[k]);
        return out;
      },
      A,
    ),
  );
  def(
    ['merge', 'mustMerge'],
    fn(
      [A],
      ([dst, ...srcs]) => {
        const d = dictOf(dst, 'merge');
        for (const s of srcs) mergeInto(d, dictOf(s, 'merge'), false);
        return d;
      },
      A,
    ),
  );
  def(
    ['mergeOverwrite', 'mustMergeOverwrite'],
    fn(
      [A],
      ([dst, ...srcs]) => {
        const d = dictOf(dst, 'mergeOverwrite');
        for (const s of srcs) mergeInto(d, dictOf(s, 'mergeOverwrite'), true);
        return d;
      },
      A,
    ),
  );
  def(
    'dig',
    fn(
      [A],
      (a) => {
        if (a.length < 3) throw new Error('dig needs at least three arguments');
        const d = a[a.length - 1];
        const dflt = a[a.length - 2];
        let cur: GoValue = dictOf(d, 'dig');
        for (const k of a.slice(0, -2).map(strval)) {
          if (!isMap(cur) || !Object.hasOwn(cur, k)) return dflt;
          cur = cur[k];
        }
        return cur;
      },
      A,
    ),
  );

  return m;
}

function range(start: bigint, stop: bigint, step: bigint): bigint[] {
  const out: bigint[] = [];
  if (step === 0n) return out;
  for (let i = start; step > 0n ? i < stop : i > stop; i += step) out.push(i);
  return out;
}

/** sprig's wrap (goutils.Wrap): break lines longer than `width` at spaces. */
function wrap(s: string, width: number, sep: string): string {
  const w = width < 1 ? 1 : width;
  return s
    .split('\n')
    .map((line) => {
      const out: string[] = [];
      let cur = '';
      for (const word of line.split(' ')) {
        if (cur && cur.length + 1 + word.length > w) {
          out.push(cur);
          cur = word;
        } else cur = cur ? `${cur} ${word}` : word;
      }
      out.push(cur);
      return out.join(sep);
    })
    .join('\n');
}

function words(s: string): string[] {
  return s
    .replace(/([a-z0-9])([A-Z])/g, '$1 $2')
    .split(/[^A-Za-z0-9]+/)
    .filter(Boolean);
}

const B32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

/** base32.StdEncoding (RFC 4648, padded). */
function base32(bytes: Buffer): string {
  let out = '';
  let bits = 0;
  let value = 0;
  for (const b of bytes) {
    value = (value << 8) | b;
    bits += 8;
    while (bits >= 5) {
      out += B32[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  if (bits > 0) out += B32[(value << (5 - bits)) & 31];
  while (out.length % 8 !== 0) out += '=';
  return out;
}

/** sprig's b32dec: the decoded text, or the decoder's error as the text. */
function unbase32(s: string): string {
  const body = s.replace(/=+$/, '');
  const bytes: number[] = [];
  let bits = 0;
  let value = 0;
  for (let i = 0; i < body.length; i++) {
    const v = B32.indexOf(body[i]);
    if (v < 0 || s.length % 8 !== 0) return `illegal base32 data at input byte ${v < 0 ? i : s.length}`;
    value = ((value << 5) | v) & 0xffff;
    bits += 5;
    if (bits >= 8) {
      bytes.push((value >>> (bits - 8)) & 255);
      bits -= 8;
    }
  }
  return Buffer.from(bytes).toString('utf8');
}

/** hash/adler32's Checksum. */
function adler32(bytes: Buffer): number {
  let a = 1;
  let b = 0;
  for (const x of bytes) {
    a = (a + x) % 65521;
    b = (b + a) % 65521;
  }
  return b * 65536 + a;
}
