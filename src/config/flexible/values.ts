// Template values as Go's text/template sees them, and how Go prints them.
//
// Settings files decode as Go's encoding/json does into interface{}: objects are
// map[string]interface{}, arrays []interface{}, numbers float64. Go keeps integers (template
// literals, `len`, sprig's `add`...) apart from float64: they print differently (float64 1000000
// prints `1e+06`, the int prints `1000000`) and `eq` refuses to compare them. Here an int is a
// JavaScript bigint and a float64 is a number.
//
//   undefined  Go's invalid reflect.Value: a missing map key (prints `<no value>`)
//   null       a nil interface (JSON null, sprig's coalesce of nothing)

export type GoMap = { [key: string]: GoValue };
export type GoValue = undefined | null | string | boolean | number | bigint | GoValue[] | GoMap;

export function isMap(v: unknown): v is GoMap {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/** The Go type name of a value, as Go's error messages and sprig's typeOf spell it. */
export function goTypeName(v: GoValue): string {
  if (v === undefined || v === null) return '<nil>';
  switch (typeof v) {
    case 'string':
      return 'string';
    case 'boolean':
      return 'bool';
    case 'number':
      return 'float64';
    case 'bigint':
      return 'int';
  }
  return Array.isArray(v) ? '[]interface {}' : 'map[string]interface {}';
}

/** Go's reflect.Kind name (sprig's kindOf). */
export function goKindName(v: GoValue): string {
  if (v === undefined || v === null) return 'invalid';
  if (Array.isArray(v)) return 'slice';
  if (isMap(v)) return 'map';
  return goTypeName(v);
}

/** text/template's isTrue: the zero value of its type is false. */
export function isTrue(v: GoValue): boolean {
  if (v === undefined || v === null) return false;
  switch (typeof v) {
    case 'string':
      return v.length > 0;
    case 'boolean':
      return v;
    case 'number':
      return v !== 0;
    case 'bigint':
      return v !== 0n;
  }
  return Array.isArray(v) ? v.length > 0 : Object.keys(v).length > 0;
}

/** Go's map iteration for printing, range and json: keys in byte order. */
export function sortedKeys(m: GoMap): string[] {
  return Object.keys(m).sort(compareStrings);
}

/** Go compares strings by bytes; for UTF-16 strings, code points give the same order. */
export function compareStrings(a: string, b: string): number {
  if (a === b) return 0;
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.codePointAt(i) as number;
    const y = b.codePointAt(i) as number;
    if (x !== y) return x < y ? -1 : 1;
    if (x > 0xffff) i++;
  }
  return a.length < b.length ? -1 : 1;
}

/** strconv.FormatFloat(f, 'g', -1, 64) as fmt's %v uses it: exponent form from 1e+06 and below 1e-04. */
export function formatFloatV(f: number): string {
  if (Number.isNaN(f)) return 'NaN';
  if (!Number.isFinite(f)) return f > 0 ? '+Inf' : '-Inf';
  if (f === 0) return Object.is(f, -0) ? '-0' : '0';
  const [mantissa, expText] = f.toExponential().split('e');
  const exp = Number(expText);
  if (exp < -4 || exp >= 21) return goExponent(mantissa, exp);
  if (exp >= 6) return goExponent(mantissa, exp);
  return String(f);
}

function goExponent(mantissa: string, exp: number): string {
  const abs = Math.abs(exp);
  return `${mantissa}e${exp < 0 ? '-' : '+'}${abs < 10 ? `0${abs}` : abs}`;
}

/** fmt's %v of a value nested in another (nil prints `<nil>`). */
export function formatV(v: GoValue): string {
  if (v === undefined || v === null) return '<nil>';
  switch (typeof v) {
    case 'string':
      return v;
    case 'boolean':
      return v ? 'true' : 'false';
    case 'number':
      return formatFloatV(v);
    case 'bigint':
      return v.toString();
  }
  if (Array.isArray(v)) return `[${v.map(formatV).join(' ')}]`;
  return `map[${sortedKeys(v)
    .map((k) => `${k}:${formatV(v[k])}`)
    .join(' ')}]`;
}

/** What an action `{{ pipeline }}` writes: a missing value is `<no value>`. */
export function printValue(v: GoValue): string {
  if (v === undefined || v === null) return '<no value>';
  return formatV(v);
}

/** fmt.Sprint: a space between operands when neither is a string. */
export function sprint(args: GoValue[]): string {
  let out = '';
  for (let i = 0; i < args.length; i++) {
    if (i > 0 && typeof args[i] !== 'string' && typeof args[i - 1] !== 'string') out += ' ';
    out += formatV(args[i]);
  }
  return out;
}

/** fmt.Sprintln: always a space between operands, and a newline. */
export function sprintln(args: GoValue[]): string {
  return `${args.map(formatV).join(' ')}\n`;
}

/** strconv.Quote: Go's double-quoted string with its escapes. */
export function goQuote(s: string, q = '"'): string {
  let out = q;
  for (const ch of s) {
    const c = ch.codePointAt(0) as number;
    if (ch === q || ch === '\\') out += `\\${ch}`;
    else if (c === 7) out += '\\a';
    else if (c === 8) out += '\\b';
    else if (c === 12) out += '\\f';
    else if (c === 10) out += '\\n';
    else if (c === 13) out += '\\r';
    else if (c === 9) out += '\\t';
    else if (c === 11) out += '\\v';
    else if (c < 0x20 || c === 0x7f) out += `\\x${c.toString(16).padStart(2, '0')}`;
    else if ((c >= 0x80 && c < 0xa0) || c === 0xad || c === 0x2028 || c === 0x2029 || c === 0xfeff)
      out += `\\u${c.toString(16).padStart(4, '0')}`;
    else out += ch;
  }
  return out + q;
}

/**
 * Go's json.Marshal (and MarshalIndent when `indent` is given): object keys sorted, `<`, `>` and
 * `&` escaped as \u003c... unless `escapeHTML` is false (sprig's toRawJson). Throws on NaN/Inf,
 * as Go returns an error.
 */
export function goJson(v: GoValue, indent = '', escapeHTML = true): string {
  const out: string[] = [];
  const write = (x: GoValue, depth: number): void => {
    if (x === undefined || x === null) {
      out.push('null');
      return;
    }
    switch (typeof x) {
      case 'string':
        out.push(jsonString(x, escapeHTML));
        return;
      case 'boolean':
        out.push(x ? 'true' : 'false');
        return;
      case 'bigint':
        out.push(x.toString());
        return;
      case 'number':
        if (!Number.isFinite(x)) throw new Error(`json: unsupported value: ${formatFloatV(x)}`);
        out.push(jsonFloat(x));
        return;
    }
    const nl = indent ? `\n${indent.repeat(depth + 1)}` : '';
    const close = indent ? `\n${indent.repeat(depth)}` : '';
    if (Array.isArray(x)) {
      if (x.length === 0) {
        out.push('[]');
        return;
      }
      out.push('[');
      x.forEach((e, i) => {
        if (i > 0) out.push(',');
        out.push(nl);
        write(e, depth + 1);
      });
      out.push(close, ']');
      return;
    }
    const keys = sortedKeys(x);
    if (keys.length === 0) {
      out.push('{}');
      return;
    }
    out.push('{');
    keys.forEach((k, i) => {
      if (i > 0) out.push(',');
      out.push(nl, jsonString(k, escapeHTML), indent ? ': ' : ':');
      write(x[k], depth + 1);
    });
    out.push(close, '}');
  };
  write(v, 0);
  return out.join('');
}

/** Go's float encoding in JSON: the same thresholds as JavaScript's, `e-7` not `e-07`. */
function jsonFloat(f: number): string {
  if (Object.is(f, -0)) return '-0';
  return String(f);
}

function jsonString(s: string, escapeHTML: boolean): string {
  let out = '"';
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0x22) out += '\\"';
    else if (c === 0x5c) out += '\\\\';
    else if (c === 10) out += '\\n';
    else if (c === 13) out += '\\r';
    else if (c === 9) out += '\\t';
    else if (c === 8) out += '\\b';
    else if (c === 12) out += '\\f';
    else if (
      c < 0x20 ||
      c === 0x2028 ||
      c === 0x2029 ||
      (escapeHTML && (c === 0x3c || c === 0x3e || c === 0x26))
    )
      out += `\\u${c.toString(16).padStart(4, '0')}`;
    else out += s[i];
  }
  return `${out}"`;
}

/** encoding/json's decoding into interface{}: numbers are float64, as KrakenD reads settings. */
export function fromJsonText(text: string): GoValue {
  return JSON.parse(text) as GoValue;
}

/** Deep copy (sprig's deepCopy, and settings handed to a template that may `set` on them). */
export function deepCopy(v: GoValue): GoValue {
  if (Array.isArray(v)) return v.map(deepCopy);
  if (isMap(v)) {
    const out: GoMap = {};
    for (const k of Object.keys(v)) out[k] = deepCopy(v[k]);
    return out;
  }
  return v;
}

/** Byte length of a Go string (UTF-8). */
export function byteLength(s: string): number {
  return Buffer.byteLength(s, 'utf8');
}
