// The yaml output encoder, and negotiate's answer to `Accept: text/plain` or
// `application/x-yaml`: lura's yamlRender (router/gin/render.go) hands the data to gin's
// render.YAML, which marshals with goccy/go-yaml and answers `application/yaml; charset=utf-8`.
// Registered when a configuration uses `yaml` or `negotiate` (src/extensions/registry.ts).
//
// The text is goccy/go-yaml's (encode.go encodeMap/encodeSlice/encodeString, ast.go String):
//  - map keys sorted by their bytes, block style, two spaces per level; a list under a key
//    starts at the key's own column (`key:\n- a`); empty maps and lists are `{}` and `[]`;
//  - a backend's JSON numbers reach the render as Go json.Number, a string type, so they are
//    written as quoted strings (`a: "42"`), as KrakenD writes them;
//  - a string is double-quoted (Go's strconv.Quote) when YAML could read it as something else
//    (token.IsNeedQuoted), a multi-line one is a literal block (`|-`).

import { rawNumberText, registerEncoder } from '../proxy/encodings.js';

const RESERVED = new Set([
  'null',
  'Null',
  'NULL',
  '~',
  'true',
  'True',
  'TRUE',
  'false',
  'False',
  'FALSE',
  'y',
  'Y',
  'yes',
  'Yes',
  'YES',
  'n',
  'N',
  'no',
  'No',
  'NO',
  'on',
  'On',
  'ON',
  'off',
  'Off',
  'OFF',
]);

const QUOTED_FIRST = new Set([
  '*',
  '&',
  '[',
  '{',
  '}',
  ']',
  ',',
  '!',
  '|',
  '>',
  '%',
  "'",
  '"',
  '@',
  ' ',
  '`',
]);

/** goccy token.isNumber: what strconv would parse as a YAML number (a range error counts). */
function isYamlNumber(value: string): boolean {
  if (value === '' || value[0] === '_') return false;
  let dots = 0;
  for (let i = 0; i < value.length; i++) if (value.charCodeAt(i) === 46) dots++;
  if (dots > 1) return false;
  let s = value;
  if (s[0] === '+') s = s.slice(1);
  if (s[0] === '-') s = s.slice(1);
  s = s.replace(/_/g, '');
  if (s.startsWith('0x')) return /^[0-9a-fA-F]+$/.test(s.slice(2));
  if (s.startsWith('0o')) return /^[0-7]+$/.test(s.slice(2));
  if (s.startsWith('0b')) return /^[01]+$/.test(s.slice(2));
  if (s.startsWith('0') && s.length > 1 && dots === 0) return /^[0-7]+$/.test(s);
  // strconv.ParseFloat: digits with one dot, an optional exponent (or inf/nan, which have no dot)
  if (dots === 1) return /^(?:\d+\.\d*|\.\d+)(?:[eE][+-]?\d+)?$/.test(s);
  return /^\d+$/.test(s);
}

function validDate(y: string, m: string, d: string): boolean {
  const month = Number(m);
  const day = Number(d);
  if (month < 1 || month > 12 || day < 1) return false;
  const days = new Date(Date.UTC(Number(y), month, 0)).getUTCDate();
  return day <= days;
}

function validTime(h: string, m: string, s?: string): boolean {
  return Number(h) < 24 && Number(m) < 60 && (s === undefined || Number(s) < 60);
}

/** goccy token.isTimestamp: time.Parse with RFC 3339, `2006-01-02 15:04:05`, a date or `15:4`. */
function isYamlTimestamp(v: string): boolean {
  let m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(v);
  if (m) return validDate(m[1], m[2], m[3]);
  // Go's "15" hour reads one or two digits; month, day, minute and second need two
  m = /^(\d{4})-(\d{2})-(\d{2})([Tt ])(\d{1,2}):(\d{2}):(\d{2})(?:\.\d+)?(Z|[+-]\d{2}:\d{2})?$/.exec(v);
  if (m) {
    // RFC 3339 needs its zone; the space-separated form takes none
    if ((m[4] === ' ') !== (m[8] === undefined)) return false;
    return validDate(m[1], m[2], m[3]) && validTime(m[5], m[6], m[7]);
  }
  m = /^(\d{1,2}):(\d{1,2})$/.exec(v);
  return m !== null && validTime(m[1], m[2]);
}

/** goccy token.IsNeedQuoted. */
function needsQuotes(v: string): boolean {
  if (v === '' || RESERVED.has(v) || isYamlNumber(v) || v === '-') return true;
  if (QUOTED_FIRST.has(v[0])) return true;
  const last = v[v.length - 1];
  if (last === ':' || last === ' ') return true;
  if (isYamlTimestamp(v)) return true;
  for (let i = 0; i < v.length; i++) {
    const c = v[i];
    if (c === '#' || c === '\\') return true;
    if ((c === ':' || c === '-') && v[i + 1] === ' ') return true;
  }
  return false;
}

const GO_ESCAPES: Record<string, string> = {
  '\x07': '\\a',
  '\b': '\\b',
  '\f': '\\f',
  '\n': '\\n',
  '\r': '\\r',
  '\t': '\\t',
  '\v': '\\v',
  '"': '\\"',
  '\\': '\\\\',
};

/** Go's strconv.Quote: printable runes as they are, the rest escaped. */
export function goQuote(s: string): string {
  let out = '"';
  for (const ch of s) {
    const esc = GO_ESCAPES[ch];
    if (esc !== undefined) {
      out += esc;
      continue;
    }
    const cp = ch.codePointAt(0) as number;
    if (cp < 0x20 || cp === 0x7f) out += `\\x${cp.toString(16).padStart(2, '0')}`;
    else if (cp !== 0x20 && /[\p{C}\p{Z}]/u.test(ch))
      out +=
        cp < 0x10000 ? `\\u${cp.toString(16).padStart(4, '0')}` : `\\U${cp.toString(16).padStart(8, '0')}`;
    else out += ch;
  }
  return `${out}"`;
}

/** ast.StringNode.String for an unquoted value with line breaks: a literal block. */
function literalBlock(v: string, indent: number): string {
  const lbc = v.includes('\r\n') ? '\r\n' : v.includes('\r') ? '\r' : '\n';
  const header = v.endsWith(lbc + lbc) ? '|+' : v.endsWith(lbc) ? '|' : '|-';
  const space = ' '.repeat(indent);
  const pad = '  ';
  let block = v
    .split(lbc)
    .map((line) => space + pad + line)
    .join(lbc);
  if (block.endsWith(lbc + pad + space)) block = block.slice(0, block.length - (lbc + pad + space).length);
  if (block.endsWith(pad + space)) block = block.slice(0, block.length - (pad + space).length);
  return `${header}${lbc}${block}`;
}

function scalar(v: unknown, indent: number): string {
  if (v === null || v === undefined) return 'null';
  if (typeof v === 'boolean') return v ? 'true' : 'false';
  // a backend's number is a json.Number (a Go string) when it reaches the render
  if (typeof v === 'number' || typeof v === 'bigint') return goQuote(String(v));
  const s = String(v);
  if (needsQuotes(s)) return goQuote(s);
  if (s.includes('\n') || s.includes('\r')) return literalBlock(s, indent);
  return s;
}

function isMap(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

const SURROGATE = /[\uD800-\uDFFF]/;

/** Go sorts the keys by their UTF-8 bytes: UTF-16 order agrees unless a surrogate pair is involved. */
function byteOrder(a: string, b: string): number {
  if (SURROGATE.test(a) || SURROGATE.test(b))
    return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
  return a < b ? -1 : a > b ? 1 : 0;
}

function node(v: unknown, indent: number): string {
  const raw = rawNumberText(v);
  if (raw !== undefined) return goQuote(raw);
  if (Array.isArray(v)) return v.length === 0 ? '[]' : sequence(v, indent);
  if (isMap(v)) return Object.keys(v).length === 0 ? '{}' : mapping(v, indent);
  return scalar(v, indent);
}

function mapping(m: Record<string, unknown>, indent: number): string {
  const space = ' '.repeat(indent);
  const lines: string[] = [];
  for (const key of Object.keys(m).sort(byteOrder)) {
    const v = m[key];
    const k = scalar(key, indent);
    if (rawNumberText(v) !== undefined) lines.push(`${space}${k}: ${node(v, indent)}`);
    else if (Array.isArray(v) && v.length > 0) lines.push(`${space}${k}:\n${sequence(v, indent)}`);
    else if (isMap(v) && Object.keys(v).length > 0) lines.push(`${space}${k}:\n${mapping(v, indent + 2)}`);
    else lines.push(`${space}${k}: ${node(v, indent)}`);
  }
  return lines.join('\n');
}

/** ast.SequenceNode.blockStyleString: each entry's first line after `- `, the rest re-indented. */
function sequence(list: unknown[], indent: number): string {
  const space = ' '.repeat(indent);
  const out: string[] = [];
  for (const item of list) {
    const lines = node(item, indent).split('\n');
    if (lines.length > 1 && typeof item === 'string')
      for (let i = 1; i < lines.length; i++)
        if (lines[i].startsWith(`${space}  `)) lines[i] = lines[i].slice(indent + 2);
    const first = lines[0].trimStart();
    const diff = lines[0].length - first.length;
    const rest = lines.slice(1).map((line) => (line.length <= diff ? '' : `${space}  ${line.slice(diff)}`));
    out.push(`${space}- ${[first, ...rest].join('\n')}`);
  }
  return out.join('\n');
}

/** goccy/go-yaml's Marshal of a proxy response's data, as gin writes it. */
export function toGoYaml(data: Record<string, unknown> | null): string {
  return `${node(data ?? {}, 0)}\n`;
}

registerEncoder('yaml', (data) => ({
  contentType: 'application/yaml; charset=utf-8',
  body: toGoYaml(data),
}));
