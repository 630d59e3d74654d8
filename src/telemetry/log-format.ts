// Text log formats of KrakenD, compiled once into plain functions:
// - go-logging patterns (`%{time:2006/01/02 - 15:04:05.000} %{color}▶ %{level:.6s}%{color:reset} %{message}`)
//   used by `telemetry/logging` `format` default / logstash / custom;
// - Go time layouts (`2006/01/02 - 15:04:05.000`), as the `%{time:…}` verb and the access log use;
// - the access log line of KrakenD CE (gin's default formatter) with Go's Duration formatting.

const MONTHS = [
  'January',
  'February',
  'March',
  'April',
  'May',
  'June',
  'July',
  'August',
  'September',
  'October',
  'November',
  'December',
];
const DAYS = ['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday'];

const pad2 = (n: number) => (n < 10 ? `0${n}` : String(n));
const pad3 = (n: number) => (n < 10 ? `00${n}` : n < 100 ? `0${n}` : String(n));

type DatePart = (d: Date) => string;

function zoneOffset(d: Date, sep: string, withSeconds: boolean, zulu: boolean, hoursOnly = false): string {
  const offsetMin = -d.getTimezoneOffset();
  if (zulu && offsetMin === 0) return 'Z';
  const sign = offsetMin < 0 ? '-' : '+';
  const abs = Math.abs(offsetMin);
  const hh = pad2(Math.floor(abs / 60));
  if (hoursOnly) return `${sign}${hh}`;
  const out = `${sign}${hh}${sep}${pad2(abs % 60)}`;
  return withSeconds ? `${out}${sep}00` : out;
}

const zoneNameFormat = new Intl.DateTimeFormat('en-US', { timeZoneName: 'short' });
function zoneName(d: Date): string {
  const part = zoneNameFormat.formatToParts(d).find((p) => p.type === 'timeZoneName');
  return part?.value ?? zoneOffset(d, '', false, false);
}

/** Go layout elements, longest first where one is a prefix of another (as Go's nextStdChunk). */
const LAYOUT_TOKENS: Array<[string, DatePart]> = [
  ['January', (d) => MONTHS[d.getMonth()]],
  ['Jan', (d) => MONTHS[d.getMonth()].slice(0, 3)],
  ['Monday', (d) => DAYS[d.getDay()]],
  ['Mon', (d) => DAYS[d.getDay()].slice(0, 3)],
  ['MST', zoneName],
  ['2006', (d) => String(d.getFullYear()).padStart(4, '0')],
  ['002', (d) => pad3(dayOfYear(d))],
  ['01', (d) => pad2(d.getMonth() + 1)],
  ['02', (d) => pad2(d.getDate())],
  ['03', (d) => pad2(hour12(d))],
  ['04', (d) => pad2(d.getMinutes())],
  ['05', (d) => pad2(d.getSeconds())],
  ['06', (d) => pad2(d.getFullYear() % 100)],
  ['_2', (d) => String(d.getDate()).padStart(2, ' ')],
  ['15', (d) => pad2(d.getHours())],
  ['1', (d) => String(d.getMonth() + 1)],
  ['2', (d) => String(d.getDate())],
  ['3', (d) => String(hour12(d))],
  ['4', (d) => String(d.getMinutes())],
  ['5', (d) => String(d.getSeconds())],
  ['PM', (d) => (d.getHours() >= 12 ? 'PM' : 'AM')],
  ['pm', (d) => (d.getHours() >= 12 ? 'pm' : 'am')],
  ['-07:00:00', (d) => zoneOffset(d, ':', true, false)],
  ['-070000', (d) => zoneOffset(d, '', true, false)],
  ['-07:00', (d) => zoneOffset(d, ':', false, false)],
  ['-0700', (d) => zoneOffset(d, '', false, false)],
  ['-07', (d) => zoneOffset(d, '', false, false, true)],
  ['Z07:00:00', (d) => zoneOffset(d, ':', true, true)],
  ['Z070000', (d) => zoneOffset(d, '', true, true)],
  ['Z07:00', (d) => zoneOffset(d, ':', false, true)],
  ['Z0700', (d) => zoneOffset(d, '', false, true)],
  ['Z07', (d) => zoneOffset(d, '', false, true, true)],
];

function hour12(d: Date): number {
  const h = d.getHours() % 12;
  return h === 0 ? 12 : h;
}

function dayOfYear(d: Date): number {
  const start = new Date(d.getFullYear(), 0, 1);
  return Math.floor((d.getTime() - start.getTime()) / 86_400_000) + 1;
}

/** `.000` (fixed digits) or `.999` (trailing zeros trimmed) after a seconds element. */
function fraction(text: string, i: number): { len: number; part: DatePart } | undefined {
  const sep = text[i];
  if (sep !== '.' && sep !== ',') return undefined;
  const digit = text[i + 1];
  if (digit !== '0' && digit !== '9') return undefined;
  let j = i + 1;
  while (text[j] === digit) j++;
  if (j < text.length && text[j] >= '0' && text[j] <= '9') return undefined;
  const n = j - i - 1;
  const trim = digit === '9';
  return {
    len: j - i,
    // JS dates hold milliseconds: digits past the third are zeros
    part: (d) => {
      const digits = `${pad3(d.getMilliseconds())}000000`.slice(0, n);
      if (!trim) return `${sep}${digits}`;
      const trimmed = digits.replace(/0+$/, '');
      return trimmed === '' ? '' : `${sep}${trimmed}`;
    },
  };
}

/** Compiles a Go time layout (`2006/01/02 - 15:04:05.000`) into a formatter of local time. */
export function compileGoTimeLayout(layout: string): (d: Date) => string {
  const parts: Array<string | DatePart> = [];
  let literal = '';
  let i = 0;
  outer: while (i < layout.length) {
    const frac = fraction(layout, i);
    if (frac) {
      if (literal) parts.push(literal);
      literal = '';
      parts.push(frac.part);
      i += frac.len;
      continue;
    }
    for (const [token, part] of LAYOUT_TOKENS) {
      if (layout.startsWith(token, i)) {
        // Go reads "Jan"/"Mon" only when not followed by a lower-case letter ("Janet" is literal)
        if ((token === 'Jan' || token === 'Mon') && /[a-z]/.test(layout[i + token.length] ?? '')) continue;
        if (literal) parts.push(literal);
        literal = '';
        parts.push(part);
        i += token.length;
        continue outer;
      }
    }
    literal += layout[i++];
  }
  if (literal) parts.push(literal);
  return (d) => {
    let out = '';
    for (const p of parts) out += typeof p === 'string' ? p : p(d);
    return out;
  };
}

// ---------------------------------------------------------------------------------------------
// go-logging patterns.

/** pino numeric levels → go-logging level names (KrakenD's). */
export function levelName(level: number): string {
  if (level >= 60) return 'CRITICAL';
  if (level >= 50) return 'ERROR';
  if (level >= 40) return 'WARNING';
  if (level >= 30) return 'INFO';
  return 'DEBUG';
}

/** go-logging's ANSI colors per level (INFO has none). */
function levelColor(level: number, bold: boolean): string {
  const code = level >= 60 ? 35 : level >= 50 ? 31 : level >= 40 ? 33 : level >= 30 ? 0 : 36;
  if (code === 0) return '';
  return bold ? `\x1b[${code};1m` : `\x1b[${code}m`;
}

export interface LogRecord {
  level: number;
  message: string;
  time: Date;
  id: number;
}

export interface PatternContext {
  /** Emit ANSI colors for %{color} (only when writing to a terminal). */
  colors: boolean;
  module: string;
  program: string;
}

type RecordPart = (r: LogRecord) => string;

/** Go's fmt for %s/%d/%v verbs with flags, width and precision, as go-logging applies them. */
function compileVerb(verb: string): ((v: string | number) => string) | undefined {
  const m = /^%([-0 +#]*)(\d*)(?:\.(\d+))?([sdvqxX])$/.exec(verb);
  if (!m) return undefined;
  const [, flags, widthText, precisionText, kind] = m;
  const width = widthText ? Number(widthText) : 0;
  const precision = precisionText !== undefined ? Number(precisionText) : undefined;
  const left = flags.includes('-');
  const zero = flags.includes('0') && !left;
  return (v) => {
    let s: string;
    if (kind === 'd') s = String(Math.trunc(Number(v)));
    else if (kind === 'x') s = Math.trunc(Number(v)).toString(16);
    else if (kind === 'X') s = Math.trunc(Number(v)).toString(16).toUpperCase();
    else if (kind === 'q') s = JSON.stringify(String(v));
    else s = String(v);
    if (precision !== undefined && (kind === 's' || kind === 'v')) s = [...s].slice(0, precision).join('');
    if (s.length >= width) return s;
    return left ? s.padEnd(width, ' ') : s.padStart(width, zero ? '0' : ' ');
  };
}

/** Verbs of go-logging that gw knows; caller-location verbs print "???" (as go-logging when unknown). */
export const PATTERN_VERBS = [
  'id',
  'pid',
  'time',
  'level',
  'program',
  'message',
  'module',
  'color',
  'shortfile',
  'longfile',
  'shortfunc',
  'longfunc',
  'callpath',
  'shortpkg',
  'longpkg',
];

/** Problems of a go-logging pattern (unknown verbs, bad formats), for `gw check`. */
export function patternIssues(pattern: string): string[] {
  const issues: string[] = [];
  for (const m of pattern.matchAll(/%\{([a-z]+)(?::([^}]*))?\}/g)) {
    const [, verb, arg] = m;
    if (!PATTERN_VERBS.includes(verb)) {
      issues.push(`unknown verb %{${verb}}; known: ${PATTERN_VERBS.map((v) => `%{${v}}`).join(', ')}`);
      continue;
    }
    if (arg === undefined || verb === 'time') continue;
    if (verb === 'color') {
      if (arg !== 'bold' && arg !== 'reset')
        issues.push(`%{color:${arg}}: expected %{color}, %{color:bold} or %{color:reset}`);
      continue;
    }
    if (!compileVerb(arg.startsWith('%') ? arg : `%${arg}`))
      issues.push(`%{${verb}:${arg}}: expected a fmt verb such as .6s, -8s or 03d`);
  }
  return issues;
}

/** Compiles a go-logging pattern into a record formatter (without the trailing newline). */
export function compilePattern(pattern: string, ctx: PatternContext): (r: LogRecord) => string {
  const parts: Array<string | RecordPart> = [];
  let last = 0;
  for (const m of pattern.matchAll(/%\{([a-z]+)(?::([^}]*))?\}/g)) {
    if (m.index > last) parts.push(pattern.slice(last, m.index));
    last = m.index + m[0].length;
    const [, verb, arg] = m;
    const fmt =
      arg !== undefined && verb !== 'time' && verb !== 'color'
        ? compileVerb(arg.startsWith('%') ? arg : `%${arg}`)
        : undefined;
    const apply = (v: string | number) => (fmt ? fmt(v) : String(v));
    switch (verb) {
      case 'id':
        parts.push((r) => apply(r.id));
        break;
      case 'pid': {
        const pid = process.pid;
        parts.push(() => apply(pid));
        break;
      }
      case 'time': {
        const layout = compileGoTimeLayout(arg ?? '2006-01-02T15:04:05.999Z07:00');
        parts.push((r) => layout(r.time));
        break;
      }
      case 'level':
        parts.push((r) => apply(levelName(r.level)));
        break;
      case 'program':
        parts.push(() => apply(ctx.program));
        break;
      case 'message':
        parts.push((r) => apply(r.message));
        break;
      case 'module':
        parts.push(() => apply(ctx.module));
        break;
      case 'color':
        if (!ctx.colors) break;
        if (arg === 'reset') parts.push('\x1b[0m');
        else {
          const bold = arg === 'bold';
          parts.push((r) => levelColor(r.level, bold));
        }
        break;
      default:
        parts.push(() => apply('???'));
    }
  }
  if (last < pattern.length) parts.push(pattern.slice(last));
  return (r) => {
    let out = '';
    for (const p of parts) out += typeof p === 'string' ? p : p(r);
    return out;
  };
}

/** go-logging's DefaultFormatter as krakend-gologging sets it for `format: default`. */
export const DEFAULT_PATTERN =
  '%{time:2006/01/02 - 15:04:05.000} %{color}▶ %{level:.6s}%{color:reset} %{message}';
/**
 * krakend-gologging's logstash pattern: one JSON object per line. Two fixes keep every line valid
 * JSON with a true timestamp: the message is quoted (%{message:q}) and the offset is the real one
 * (KrakenD writes a literal "+00:00" after the local time; the two agree on UTC machines).
 */
export const LOGSTASH_PATTERN =
  '{"@timestamp":"%{time:2006-01-02T15:04:05.000-07:00}", "@version": 1, "level": "%{level}", "message": %{message:q}, "module": "%{module}"}';

// ---------------------------------------------------------------------------------------------
// The access log (gin's default LogFormatter, as KrakenD CE prints it).

function fracDigits(value: number, unit: number, digits: number): string {
  const whole = Math.floor(value / unit);
  let rest = value - whole * unit;
  if (rest === 0) return String(whole);
  // Go drops the fraction's trailing zeros: 412.530µs prints as 412.53µs.
  while (rest % 10 === 0) {
    rest /= 10;
    digits--;
  }
  const text = String(rest);
  return text.length < digits ? `${whole}.${'0'.repeat(digits - text.length)}${text}` : `${whole}.${text}`;
}

/** Go's time.Duration.String() of a duration in nanoseconds: 4.529µs, 1.234567ms, 2m3.5s. */
export function goDuration(ns: number): string {
  ns = Math.max(0, Math.round(ns));
  if (ns === 0) return '0s';
  if (ns < 1_000) return `${ns}ns`;
  if (ns < 1_000_000) return `${fracDigits(ns, 1_000, 3)}µs`;
  if (ns < 1_000_000_000) return `${fracDigits(ns, 1_000_000, 6)}ms`;
  const totalSec = Math.floor(ns / 1e9);
  const secPart = fracDigits(ns - Math.floor(totalSec / 60) * 60e9, 1e9, 9);
  if (totalSec < 60) return `${secPart}s`;
  const totalMin = Math.floor(totalSec / 60);
  if (totalMin < 60) return `${totalMin}m${secPart}s`;
  return `${Math.floor(totalMin / 60)}h${totalMin % 60}m${secPart}s`;
}

const SIMPLE_PATH = /^[\x20-\x21\x23-\x5b\x5d-\x7e]*$/;

/** Go's %#v of a string (a quoted literal). */
function goQuote(s: string): string {
  return SIMPLE_PATH.test(s) ? `"${s}"` : JSON.stringify(s);
}

/**
 * Where access-log lines are written as bytes: `chunk` is filled from `used`. `room(bytes)` makes
 * sure that many bytes fit after `used` (writing out the lines before, or growing the chunk).
 */
export interface LineChunk {
  chunk: Buffer;
  used: number;
  room(bytes: number): void;
}

/** A line chunk in memory, for the string form of a line. */
class ScratchChunk implements LineChunk {
  chunk = Buffer.allocUnsafe(512);
  used = 0;
  room(bytes: number): void {
    if (this.used + bytes > this.chunk.length) {
      const grown = Buffer.allocUnsafe(2 * (this.used + bytes));
      this.chunk.copy(grown, 0, 0, this.used);
      this.chunk = grown;
    }
  }
}

export type GinLineWriter = (
  out: LineChunk,
  status: number,
  latencyNs: number,
  endedMs: number,
  clientIp: string,
  method: string,
  path: string,
) => void;

const SPACE = 0x20;
const DOT = 0x2e;
const DIGIT_0 = 0x30;
const NS = Buffer.from('ns');
const US = Buffer.from('µs');
const MS = Buffer.from('ms');
/** The widest Go duration (`2562047h47m16.854775807s`) is 24 runes; padded to 13 columns. */
const DURATION_MAX_BYTES = 26;

function copyInto(out: LineChunk, bytes: Buffer): void {
  out.chunk.set(bytes, out.used);
  out.used += bytes.length;
}

function digitCount(n: number): number {
  let count = 1;
  while (n >= 10) {
    n = Math.floor(n / 10);
    count++;
  }
  return count;
}

/** Writes `value` as exactly `count` digits (zero-padded) ending at `end` (exclusive). */
function writeDigits(chunk: Buffer, end: number, value: number, count: number): void {
  for (let i = end - 1; i >= end - count; i--) {
    chunk[i] = DIGIT_0 + (value % 10);
    value = Math.floor(value / 10);
  }
}

/** Go's Duration.String() padded to 13 columns (gin's `%13v`), digit by digit below a second. */
function writeDuration(out: LineChunk, ns: number): void {
  ns = Math.max(0, Math.round(ns));
  if (ns === 0 || ns >= 1_000_000_000) {
    copyInto(out, Buffer.from(goDuration(ns).padStart(13, ' '), 'latin1'));
    return;
  }
  const scale = ns < 1_000 ? 1 : ns < 1_000_000 ? 1_000 : 1_000_000;
  const unit = scale === 1 ? NS : scale === 1_000 ? US : MS;
  const whole = Math.floor(ns / scale);
  let rest = ns - whole * scale;
  let fraction = scale === 1 ? 0 : scale === 1_000 ? 3 : 6;
  if (rest === 0) fraction = 0;
  else
    while (rest % 10 === 0) {
      rest /= 10;
      fraction--;
    }
  const wholeDigits = digitCount(whole);
  const columns = wholeDigits + (fraction > 0 ? fraction + 1 : 0) + 2;
  const chunk = out.chunk;
  let at = out.used;
  for (let pad = 13 - columns; pad > 0; pad--) chunk[at++] = SPACE;
  at += wholeDigits;
  writeDigits(chunk, at, whole, wholeDigits);
  if (fraction > 0) {
    chunk[at++] = DOT;
    at += fraction;
    writeDigits(chunk, at, rest, fraction);
  }
  for (let i = 0; i < unit.length; i++) chunk[at++] = unit[i];
  out.used = at;
}

/**
 * A gin access-log line writer, `[GIN] 2006/01/02 - 15:04:05 | 200 |       4.529µs |      172.17.0.1 | GET      "/path"`.
 * Every part but the latency repeats from line to line (the second, the status, the client, the
 * method, the route), so each is padded, quoted and encoded once and kept as bytes: a line is a
 * few lookups and byte copies, with no string built.
 */
export function ginLineWriter(): GinLineWriter {
  const layout = compileGoTimeLayout('2006/01/02 - 15:04:05');
  let secondEndsMs = Number.NEGATIVE_INFINITY;
  let stamp = Buffer.alloc(0);
  const statuses: Buffer[] = [];
  let lastIp = '';
  let lastIpPart = Buffer.from(` | ${''.padStart(15, ' ')} | `);
  const methods = new Map<string, Buffer>();
  const paths = new Map<string, Buffer>();
  return (out, status, latencyNs, endedMs, clientIp, method, path) => {
    // The wall clock is read once a second: until then, the monotonic end time tells the second.
    if (endedMs >= secondEndsMs) {
      const now = Date.now();
      secondEndsMs = endedMs + 1000 - (now % 1000);
      stamp = Buffer.from(`[GIN] ${layout(new Date(now))} | `);
    }
    let statusPart = statuses[status];
    if (statusPart === undefined) {
      statusPart = Buffer.from(`${String(status).padStart(3, ' ')} | `);
      if (status >= 0 && status < 1000) statuses[status] = statusPart;
    }
    if (clientIp !== lastIp) {
      lastIp = clientIp;
      lastIpPart = Buffer.from(` | ${clientIp.padStart(15, ' ')} | `);
    }
    let methodPart = methods.get(method);
    if (methodPart === undefined) {
      methodPart = Buffer.from(`${method.padEnd(7, ' ')}  `);
      if (methods.size < 64) methods.set(method, methodPart);
    }
    let pathPart = paths.get(path);
    if (pathPart === undefined) {
      pathPart = Buffer.from(`${goQuote(path)}\n`);
      if (paths.size < 4096) paths.set(path, pathPart);
    }
    out.room(
      stamp.length +
        statusPart.length +
        DURATION_MAX_BYTES +
        lastIpPart.length +
        methodPart.length +
        pathPart.length,
    );
    copyInto(out, stamp);
    copyInto(out, statusPart);
    writeDuration(out, latencyNs);
    copyInto(out, lastIpPart);
    copyInto(out, methodPart);
    copyInto(out, pathPart);
  };
}

/** The same line as a string (for destinations that take strings: a terminal, a socket). */
export function ginLineFormatter(): (
  status: number,
  latencyNs: number,
  clientIp: string,
  method: string,
  path: string,
) => string {
  const write = ginLineWriter();
  const scratch = new ScratchChunk();
  return (status, latencyNs, clientIp, method, path) => {
    scratch.used = 0;
    write(scratch, status, latencyNs, performance.now(), clientIp, method, path);
    return scratch.chunk.toString('utf8', 0, scratch.used);
  };
}
