// Go's fmt.Sprintf for the verbs configuration templates use: %v %s %d %q %t %f %g %e %x %X %c
// %T %%, with flags (- + # 0 space), width and precision. A verb that does not fit its operand
// prints as Go does: `%!d(string=abc)`.

import { formatFloatV, formatV, type GoValue, goQuote, goTypeName, isMap, sortedKeys } from './values.js';

export function sprintf(format: string, args: GoValue[]): string {
  let out = '';
  let argi = 0;
  let i = 0;
  while (i < format.length) {
    const c = format[i];
    if (c !== '%') {
      out += c;
      i++;
      continue;
    }
    i++;
    let minus = false;
    let plus = false;
    let zero = false;
    let sharp = false;
    let space = false;
    for (; i < format.length; i++) {
      const f = format[i];
      if (f === '-') minus = true;
      else if (f === '+') plus = true;
      else if (f === '0') zero = true;
      else if (f === '#') sharp = true;
      else if (f === ' ') space = true;
      else break;
    }
    let width: number | undefined;
    let prec: number | undefined;
    const num = (): number | undefined => {
      if (format[i] === '*') {
        i++;
        const a = args[argi++];
        return typeof a === 'bigint' ? Number(a) : undefined;
      }
      const m = /^\d+/.exec(format.slice(i));
      if (!m) return undefined;
      i += m[0].length;
      return Number(m[0]);
    };
    width = num();
    if (format[i] === '.') {
      i++;
      prec = num() ?? 0;
    }
    if (i >= format.length) {
      out += '%!(NOVERB)';
      break;
    }
    const verb = format[i++];
    if (verb === '%') {
      out += '%';
      continue;
    }
    if (argi >= args.length) {
      out += `%!${verb}(MISSING)`;
      continue;
    }
    const a = args[argi++];
    let s = formatOne(verb, a, { plus, sharp, space, prec });
    if (width !== undefined && s.length < width) {
      const padLen = width - s.length;
      if (minus) s += ' '.repeat(padLen);
      else if (zero && verb !== 's' && verb !== 'q' && verb !== 'v' && /^[+-]?[0-9]/.test(s)) {
        const sign = /^[+-]/.test(s) ? s[0] : '';
        s = sign + '0'.repeat(padLen) + s.slice(sign.length);
      } else s = ' '.repeat(padLen) + s;
    }
    out += s;
  }
  if (argi < args.length) {
    out += `%!(EXTRA ${args
      .slice(argi)
      .map((a) => `${goTypeName(a)}=${formatV(a)}`)
      .join(', ')})`;
  }
  return out;
}

interface Flags {
  plus: boolean;
  sharp: boolean;
  space: boolean;
  prec?: number;
}

function bad(verb: string, a: GoValue): string {
  if (a === null || a === undefined) return `%!${verb}(<nil>)`;
  return `%!${verb}(${goTypeName(a)}=${formatV(a)})`;
}

function signed(s: string, neg: boolean, f: Flags): string {
  if (neg) return `-${s}`;
  if (f.plus) return `+${s}`;
  if (f.space) return ` ${s}`;
  return s;
}

function formatOne(verb: string, a: GoValue, f: Flags): string {
  // fmt applies the verb to each element (and map key) of a slice or map.
  if (verb !== 'T' && !(verb === 'v' && !f.plus && !f.sharp)) {
    if (Array.isArray(a)) return `[${a.map((e) => formatOne(verb, e, f)).join(' ')}]`;
    if (isMap(a))
      return `map[${sortedKeys(a)
        .map((k) => `${formatOne(verb, k, f)}:${formatOne(verb, a[k], f)}`)
        .join(' ')}]`;
  }
  switch (verb) {
    case 'v':
      if (typeof a === 'string' && f.sharp) return goQuote(a);
      if (typeof a === 'number' && f.plus && a >= 0) return `+${formatFloatV(a)}`;
      if (typeof a === 'bigint' && f.plus && a >= 0n) return `+${a}`;
      return formatV(a);
    case 's':
      if (typeof a === 'string') return f.prec !== undefined ? [...a].slice(0, f.prec).join('') : a;
      return bad(verb, a);
    case 'q':
      if (typeof a === 'string') return goQuote(a);
      if (typeof a === 'bigint') return goQuote(String.fromCodePoint(Number(a)), "'");
      return bad(verb, a);
    case 't':
      return typeof a === 'boolean' ? String(a) : bad(verb, a);
    case 'd':
      if (typeof a === 'bigint') return signed((a < 0n ? -a : a).toString(), a < 0n, f);
      return bad(verb, a);
    case 'c':
      return typeof a === 'bigint' ? String.fromCodePoint(Number(a)) : bad(verb, a);
    case 'x':
    case 'X': {
      let s: string;
      if (typeof a === 'bigint') s = signed((a < 0n ? -a : a).toString(16), a < 0n, f);
      else if (typeof a === 'string') s = Buffer.from(a, 'utf8').toString('hex');
      else return bad(verb, a);
      if (f.sharp) s = s.startsWith('-') ? `-0x${s.slice(1)}` : `0x${s}`;
      return verb === 'X' ? s.toUpperCase() : s;
    }
    case 'o':
    case 'b':
      if (typeof a === 'bigint') return signed((a < 0n ? -a : a).toString(verb === 'o' ? 8 : 2), a < 0n, f);
      return bad(verb, a);
    case 'f':
    case 'F':
    case 'e':
    case 'E':
    case 'g':
    case 'G': {
      if (typeof a !== 'number') return bad(verb, a);
      if (!Number.isFinite(a)) return Number.isNaN(a) ? 'NaN' : a > 0 ? (f.plus ? '+Inf' : '+Inf') : '-Inf';
      const neg = a < 0 || Object.is(a, -0);
      const abs = Math.abs(a);
      let s: string;
      const lower = verb.toLowerCase();
      if (lower === 'f') s = fixed(abs, f.prec ?? 6);
      else if (lower === 'e') s = expForm(abs.toExponential(f.prec ?? 6));
      else if (f.prec === undefined) s = formatFloatV(abs);
      else {
        const p = f.prec === 0 ? 1 : f.prec;
        const exp = abs === 0 ? 0 : Math.floor(Math.log10(abs));
        s =
          exp < -4 || exp >= p
            ? expForm(Number(abs.toPrecision(p)).toExponential())
            : String(Number(abs.toPrecision(p)));
      }
      s = signed(s, neg, f);
      return verb === 'E' || verb === 'G' ? s.toUpperCase() : s;
    }
    case 'T':
      return goTypeName(a);
    default:
      return `%!${verb}(${goTypeName(a)}=${formatV(a)})`;
  }
}

/**
 * strconv's %f rounds an exact tie to even (2.5 → "2"); toFixed rounds it up. A double's exact
 * expansion settles a tie within 60 digits past the precision (its 53-bit mantissa cannot
 * reach further), so toFixed at that length shows whether the value is one.
 */
function fixed(x: number, prec: number): string {
  const rounded = x.toFixed(prec);
  if (prec > 40) return rounded;
  const extra = Math.min(100, prec + 60) - prec;
  const long = x.toFixed(prec + extra);
  const cut = long.length - extra;
  if (!/^50*$/.test(long.slice(cut))) return rounded;
  const truncated = long.slice(0, cut).replace(/\.$/, '');
  return Number(truncated[truncated.length - 1]) % 2 === 0 ? truncated : rounded;
}

/** JavaScript's `1.5e+0` as Go's `1.5e+00`. */
function expForm(s: string): string {
  return s.replace(/e([+-])(\d)$/, 'e$10$2');
}
