// Go's text/template syntax (text/template/parse: lex.go, parse.go, node.go) read into a tree
// once; exec.ts walks it. Functions are resolved here, as Go's parser does, so an unknown
// function is reported with its file:line:col before anything runs.

export class TemplateError extends Error {
  constructor(
    message: string,
    readonly file: string,
    readonly line: number,
    readonly column: number,
  ) {
    super(`${file}:${line}:${column}: ${message}`);
    this.name = 'TemplateError';
  }
}

/** Where a node is: file and offset; line:column are worked out only for messages. */
export class Source {
  private lineStarts: number[] | undefined;
  constructor(
    readonly file: string,
    readonly text: string,
  ) {}
  position(offset: number): { line: number; column: number } {
    if (!this.lineStarts) {
      this.lineStarts = [0];
      for (let i = 0; i < this.text.length; i++)
        if (this.text.charCodeAt(i) === 10) this.lineStarts.push(i + 1);
    }
    let lo = 0;
    let hi = this.lineStarts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.lineStarts[mid] <= offset) lo = mid;
      else hi = mid - 1;
    }
    return { line: lo + 1, column: offset - this.lineStarts[lo] + 1 };
  }
  error(offset: number, message: string): TemplateError {
    const { line, column } = this.position(offset);
    return new TemplateError(message, this.file, line, column);
  }
}

export type Arg =
  | { t: 'field'; pos: number; names: string[] }
  | { t: 'var'; pos: number; name: string; names: string[] }
  | { t: 'dot'; pos: number }
  | { t: 'nil'; pos: number }
  | { t: 'bool'; pos: number; value: boolean }
  | { t: 'string'; pos: number; value: string }
  | { t: 'number'; pos: number; text: string; int?: bigint; float?: number; floatText: boolean }
  | { t: 'func'; pos: number; name: string }
  | { t: 'pipe'; pos: number; pipe: Pipe }
  | { t: 'chain'; pos: number; node: Arg; names: string[] };

export interface Command {
  pos: number;
  args: Arg[];
}

export interface Pipe {
  pos: number;
  decl: string[];
  /** `$x = value` (assign to an existing variable) rather than `$x := value`. */
  assign: boolean;
  cmds: Command[];
}

export type Node =
  | { t: 'text'; text: string }
  | { t: 'action'; pos: number; pipe: Pipe }
  | { t: 'if' | 'with'; pos: number; pipe: Pipe; list: Node[]; elseList?: Node[] }
  | { t: 'range'; pos: number; pipe: Pipe; list: Node[]; elseList?: Node[] }
  | { t: 'template'; pos: number; name: string; pipe?: Pipe }
  | { t: 'break' | 'continue'; pos: number };

export interface Template {
  name: string;
  source: Source;
  root: Node[];
}

// ---- lexer ----------------------------------------------------------------------------------

type TokKind =
  | 'field'
  | 'var'
  | 'dot'
  | 'ident'
  | 'keyword'
  | 'string'
  | 'number'
  | 'char'
  | 'bool'
  | 'nil'
  | 'pipe'
  | 'lparen'
  | 'rparen'
  | 'declare'
  | 'assign'
  | 'comma'
  | 'space'
  | 'end';

interface Tok {
  k: TokKind;
  pos: number;
  text: string;
  /** Field chain of a `.a.b` or `$x.a.b` token. */
  names?: string[];
  value?: string;
}

const KEYWORDS = new Set([
  'if',
  'else',
  'end',
  'range',
  'with',
  'define',
  'template',
  'block',
  'break',
  'continue',
]);
const SPACE = /[ \t\r\n]/;
const ALNUM = /[\p{L}\p{Nd}_]/u;

/** Go's trim marker: `{{- ` and ` -}}` need the space, so `{{-3}}` is the number -3. */
function isTrimLeft(s: string, i: number): boolean {
  return s[i] === '-' && SPACE.test(s[i + 1] ?? '');
}

interface ActionToks {
  pos: number;
  toks: Tok[];
}

type Piece = { t: 'text'; text: string } | { t: 'action'; action: ActionToks };

function lex(src: Source): Piece[] {
  const s = src.text;
  const pieces: Piece[] = [];
  let i = 0;
  let trimNext = false;
  while (i < s.length) {
    const open = s.indexOf('{{', i);
    let text = s.slice(i, open < 0 ? s.length : open);
    if (trimNext) text = text.replace(/^[ \t\r\n]+/, '');
    trimNext = false;
    if (open < 0) {
      if (text) pieces.push({ t: 'text', text });
      break;
    }
    let j = open + 2;
    if (isTrimLeft(s, j)) {
      text = text.replace(/[ \t\r\n]+$/, '');
      j += 2;
    }
    if (text) pieces.push({ t: 'text', text });
    // A comment starts right after the delimiter (and its trim marker).
    if (s.startsWith('/*', j)) {
      const close = s.indexOf('*/', j + 2);
      if (close < 0) throw src.error(open, 'unclosed comment');
      let k = close + 2;
      if (s[k] === ' ' && s[k + 1] === '-' && s.startsWith('}}', k + 2)) {
        trimNext = true;
        k += 4;
      } else if (s.startsWith('}}', k)) {
        k += 2;
      } else {
        throw src.error(close, 'comment ends before closing delimiter');
      }
      i = k;
      continue;
    }
    const r = lexAction(src, j, open);
    pieces.push({ t: 'action', action: { pos: open, toks: r.toks } });
    trimNext = r.trimRight;
    i = r.next;
  }
  return pieces;
}

function lexAction(
  src: Source,
  start: number,
  open: number,
): { toks: Tok[]; next: number; trimRight: boolean } {
  const s = src.text;
  const toks: Tok[] = [];
  let i = start;
  let parens = 0;
  const push = (k: TokKind, pos: number, text: string, extra: Partial<Tok> = {}) =>
    toks.push({ k, pos, text, ...extra });
  const word = (from: number): number => {
    let k = from;
    while (k < s.length && ALNUM.test(s[k])) k++;
    return k;
  };
  // `.a.b` after a field, variable or `)`: the names of a chain.
  const chain = (from: number): { names: string[]; end: number } => {
    const names: string[] = [];
    let k = from;
    while (s[k] === '.' && k + 1 < s.length && ALNUM.test(s[k + 1]) && !/[0-9]/.test(s[k + 1])) {
      const e = word(k + 1);
      names.push(s.slice(k + 1, e));
      k = e;
    }
    return { names, end: k };
  };
  for (;;) {
    if (i >= s.length) throw src.error(open, 'unclosed action');
    const c = s[i];
    if (s.startsWith('}}', i)) {
      if (parens > 0) throw src.error(i, 'unclosed left paren');
      push('end', i, '}}');
      return { toks, next: i + 2, trimRight: false };
    }
    if (SPACE.test(c)) {
      let k = i;
      while (k < s.length && SPACE.test(s[k])) k++;
      // ` -}}`: trim the text that follows.
      if (s[k] === '-' && s.startsWith('}}', k + 1)) {
        if (parens > 0) throw src.error(k, 'unclosed left paren');
        push('end', k, '-}}');
        return { toks, next: k + 3, trimRight: true };
      }
      if (s.startsWith('}}', k)) {
        i = k;
        continue;
      }
      push('space', i, ' ');
      i = k;
      continue;
    }
    const pos = i;
    if (c === '|') {
      push('pipe', pos, '|');
      i++;
    } else if (c === '(') {
      parens++;
      push('lparen', pos, '(');
      i++;
    } else if (c === ')') {
      parens--;
      if (parens < 0) throw src.error(pos, 'unexpected right paren');
      push('rparen', pos, ')');
      i++;
      const ch = chain(i);
      if (ch.names.length) {
        push('field', i, s.slice(i, ch.end), { names: ch.names, value: 'chain' });
        i = ch.end;
      }
    } else if (c === ',') {
      push('comma', pos, ',');
      i++;
    } else if (c === ':' && s[i + 1] === '=') {
      push('declare', pos, ':=');
      i += 2;
    } else if (c === '=') {
      push('assign', pos, '=');
      i++;
    } else if (c === '"') {
      let k = i + 1;
      while (k < s.length && s[k] !== '"') {
        if (s[k] === '\\') k++;
        if (s[k] === '\n' || k >= s.length) throw src.error(pos, 'unterminated quoted string');
        k++;
      }
      if (k >= s.length) throw src.error(pos, 'unterminated quoted string');
      const raw = s.slice(i, k + 1);
      push('string', pos, raw, { value: unquote(src, pos, raw) });
      i = k + 1;
    } else if (c === '`') {
      const k = s.indexOf('`', i + 1);
      if (k < 0) throw src.error(pos, 'unterminated raw quoted string');
      push('string', pos, s.slice(i, k + 1), { value: s.slice(i + 1, k).replace(/\r/g, '') });
      i = k + 1;
    } else if (c === "'") {
      let k = i + 1;
      if (s[k] === '\\') k++;
      k += (s.codePointAt(k) ?? 0) > 0xffff ? 2 : 1;
      if (s[k] !== "'") throw src.error(pos, 'unterminated character constant');
      const raw = s.slice(i, k + 1);
      push('char', pos, raw, { value: unquote(src, pos, `"${raw.slice(1, -1).replace(/"/g, '\\"')}"`) });
      i = k + 1;
    } else if (c === '$') {
      const e = word(i + 1);
      const name = s.slice(i, e);
      const ch = chain(e);
      push('var', pos, name, { names: ch.names });
      i = ch.end;
    } else if (c === '.' && !/[0-9]/.test(s[i + 1] ?? '')) {
      if (ALNUM.test(s[i + 1] ?? '')) {
        const ch = chain(i);
        push('field', pos, s.slice(i, ch.end), { names: ch.names });
        i = ch.end;
      } else {
        push('dot', pos, '.');
        i++;
      }
    } else if (/[0-9+\-.]/.test(c)) {
      const m =
        /^[+-]?(0[xX][0-9a-fA-F_]*(\.[0-9a-fA-F_]*)?([pP][+-]?[0-9_]+)?|0[bB][01_]+|0[oO][0-7_]+|[0-9_]*(\.[0-9_]*)?([eE][+-]?[0-9_]+)?)/.exec(
          s.slice(i, i + 100),
        );
      const text = m?.[0] ?? '';
      if (!text || text === '+' || text === '-' || text === '.' || ALNUM.test(s[i + text.length] ?? ''))
        throw src.error(pos, `bad number syntax: ${JSON.stringify(s.slice(i, word(i + 1)))}`);
      push('number', pos, text);
      i += text.length;
    } else if (ALNUM.test(c)) {
      const e = word(i);
      const w = s.slice(i, e);
      if (w === 'true' || w === 'false') push('bool', pos, w);
      else if (w === 'nil') push('nil', pos, w);
      else if (KEYWORDS.has(w)) push('keyword', pos, w);
      else push('ident', pos, w);
      i = e;
    } else {
      throw src.error(pos, `unrecognized character in action: ${goQuoteChar(c)}`);
    }
  }
}

function goQuoteChar(c: string): string {
  return c === "'"
    ? "U+0027 '''"
    : `U+${(c.codePointAt(0) as number).toString(16).toUpperCase().padStart(4, '0')} '${c}'`;
}

/** strconv.Unquote of a Go interpreted string literal. */
function unquote(src: Source, pos: number, raw: string): string {
  let out = '';
  for (let i = 1; i < raw.length - 1; i++) {
    const c = raw[i];
    if (c !== '\\') {
      out += c;
      continue;
    }
    const e = raw[++i];
    const simple: Record<string, string> = {
      a: '\x07',
      b: '\b',
      f: '\f',
      n: '\n',
      r: '\r',
      t: '\t',
      v: '\v',
      '\\': '\\',
      '"': '"',
      "'": "'",
    };
    if (e in simple) {
      out += simple[e];
    } else if (e === 'x' || e === 'u' || e === 'U') {
      const n = e === 'x' ? 2 : e === 'u' ? 4 : 8;
      const hex = raw.slice(i + 1, i + 1 + n);
      if (!/^[0-9a-fA-F]+$/.test(hex) || hex.length !== n)
        throw src.error(pos, `invalid syntax in quoted string ${raw}`);
      out += String.fromCodePoint(Number.parseInt(hex, 16));
      i += n;
    } else if (/[0-7]/.test(e)) {
      const oct = raw.slice(i, i + 3);
      if (!/^[0-7]{3}$/.test(oct)) throw src.error(pos, `invalid syntax in quoted string ${raw}`);
      out += String.fromCharCode(Number.parseInt(oct, 8));
      i += 2;
    } else {
      throw src.error(pos, `invalid syntax in quoted string ${raw}`);
    }
  }
  return out;
}

/** parse/node.go's newNumber: a literal can be both an int and a float (`1e3`, `2.0`). */
function numberArg(src: Source, tok: Tok): Arg {
  const text = tok.text.replace(/_/g, '');
  const isHex = /^[+-]?0[xX]/.test(text);
  const floatText = !isHex && /[.eE]/.test(text);
  let int: bigint | undefined;
  let float: number | undefined;
  if (!floatText && !/[pP]/.test(text)) {
    try {
      const neg = text.startsWith('-');
      const body = text.replace(/^[+-]/, '');
      const v = /^0[0-7]+$/.test(body) ? BigInt(`0o${body.slice(1)}`) : BigInt(body);
      int = neg ? -v : v;
      if (int > 9223372036854775807n || int < -9223372036854775808n)
        throw src.error(tok.pos, `integer overflow: ${JSON.stringify(tok.text)}`);
      float = Number(int);
    } catch (err) {
      if (err instanceof TemplateError) throw err;
      throw src.error(tok.pos, `illegal number syntax: ${JSON.stringify(tok.text)}`);
    }
  } else {
    float = Number(isHex ? hexFloat(text) : text);
    if (Number.isNaN(float)) throw src.error(tok.pos, `illegal number syntax: ${JSON.stringify(tok.text)}`);
    if (Number.isInteger(float) && Math.abs(float) <= Number.MAX_SAFE_INTEGER) int = BigInt(float);
  }
  return { t: 'number', pos: tok.pos, text: tok.text, int, float, floatText };
}

function hexFloat(text: string): number {
  const m = /^([+-]?)0[xX]([0-9a-fA-F]*)(?:\.([0-9a-fA-F]*))?(?:[pP]([+-]?\d+))?$/.exec(text);
  if (!m) return Number.NaN;
  const mant = Number.parseInt(m[2] || '0', 16) + (m[3] ? Number.parseInt(m[3], 16) / 16 ** m[3].length : 0);
  return (m[1] === '-' ? -1 : 1) * mant * 2 ** Number(m[4] ?? 0);
}

// ---- parser ---------------------------------------------------------------------------------

/** Templates parsed from one file: the file's own body under `name`, plus its `define`s. */
export function parseTemplates(
  file: string,
  name: string,
  text: string,
  hasFunc: (n: string) => boolean,
  whyUnknown: (n: string) => string = () => '',
): Template[] {
  const src = new Source(file, text);
  const pieces = lex(src);
  return new Parser(src, pieces, hasFunc, whyUnknown).parseFile(name);
}

const MAX_NESTING = 1000;

type Stop = { word: 'end' | 'else' | 'eof'; pos: number; action?: ActionToks };

class Parser {
  private at = 0;
  private vars: string[] = ['$'];
  private rangeDepth = 0;
  private depth = 0;
  private defines: Template[] = [];
  /** Tokens of the action being parsed, without spaces only where noted. */
  private toks: Tok[] = [];
  private ti = 0;

  constructor(
    private readonly src: Source,
    private readonly pieces: Piece[],
    private readonly hasFunc: (n: string) => boolean,
    private readonly whyUnknown: (n: string) => string,
  ) {}

  parseFile(name: string): Template[] {
    const root = this.parseList(true);
    if (root.stop.word !== 'eof') throw this.src.error(root.stop.pos, `unexpected {{${root.stop.word}}}`);
    return [{ name, source: this.src, root: root.nodes }, ...this.defines];
  }

  private parseList(top: boolean): { nodes: Node[]; stop: Stop } {
    const nodes: Node[] = [];
    while (this.at < this.pieces.length) {
      const p = this.pieces[this.at++];
      if (p.t === 'text') {
        nodes.push({ t: 'text', text: p.text });
        continue;
      }
      this.toks = p.action.toks;
      this.ti = 0;
      this.skipSpace();
      const first = this.peek();
      if (first.k === 'keyword') {
        switch (first.text) {
          case 'end':
          case 'else':
            this.ti++;
            return { nodes, stop: { word: first.text, pos: first.pos, action: p.action } };
          case 'if':
          case 'with':
          case 'range':
            this.ti++;
            nodes.push(this.parseControl(first.text, first.pos));
            continue;
          case 'template':
            this.ti++;
            nodes.push(this.parseTemplateCall(first.pos));
            continue;
          case 'block': {
            this.ti++;
            const call = this.parseTemplateCall(first.pos, true);
            nodes.push(call);
            this.parseDefineBody(call.t === 'template' ? call.name : '', first.pos);
            continue;
          }
          case 'define': {
            if (!top)
              throw this.src.error(
                first.pos,
                'unexpected <define> in command: define is allowed only at the top level',
              );
            this.ti++;
            this.skipSpace();
            const nameTok = this.next();
            if (nameTok.k !== 'string')
              throw this.src.error(nameTok.pos, `unexpected ${describe(nameTok)} in define clause`);
            this.expectEnd('define clause');
            this.parseDefineBody(nameTok.value as string, first.pos);
            continue;
          }
          case 'break':
          case 'continue': {
            this.ti++;
            if (this.rangeDepth === 0) throw this.src.error(first.pos, `{{${first.text}}} outside {{range}}`);
            this.expectEnd(first.text);
            nodes.push({ t: first.text, pos: first.pos });
            continue;
          }
        }
      }
      const pipe = this.parsePipeline('command');
      nodes.push({ t: 'action', pos: p.action.pos, pipe });
    }
    return { nodes, stop: { word: 'eof', pos: this.src.text.length } };
  }

  private parseDefineBody(name: string, pos: number): void {
    const savedVars = this.vars;
    const savedRange = this.rangeDepth;
    this.vars = ['$'];
    this.rangeDepth = 0;
    const body = this.parseList(false);
    if (body.stop.word !== 'end')
      throw this.src.error(pos, `unexpected EOF: {{define "${name}"}} has no {{end}}`);
    this.expectEnd('end');
    this.vars = savedVars;
    this.rangeDepth = savedRange;
    this.defines.push({ name, source: this.src, root: body.nodes });
  }

  private parseTemplateCall(pos: number, isBlock = false): Node {
    const kind = isBlock ? 'block' : 'template';
    this.skipSpace();
    const nameTok = this.next();
    if (nameTok.k !== 'string')
      throw this.src.error(nameTok.pos, `unexpected ${describe(nameTok)} in ${kind} clause`);
    this.skipSpace();
    let pipe: Pipe | undefined;
    if (this.peek().k !== 'end') pipe = this.parsePipeline(kind);
    else this.ti++;
    return { t: 'template', pos, name: nameTok.value as string, pipe };
  }

  private parseControl(kind: 'if' | 'with' | 'range', pos: number): Node {
    this.enter(pos);
    try {
      return this.parseControlBody(kind, pos);
    } finally {
      this.depth--;
    }
  }

  /** parse.go's maxStackDepth: nesting deeper than JavaScript's stack is refused, not a crash. */
  private enter(pos: number): void {
    if (++this.depth > MAX_NESTING)
      throw this.src.error(pos, `max expression depth exceeded (${MAX_NESTING})`);
  }

  private parseControlBody(kind: 'if' | 'with' | 'range', pos: number): Node {
    const mark = this.vars.length;
    const pipe = this.parsePipeline(kind, kind === 'range' ? 2 : 1);
    if (kind === 'range') this.rangeDepth++;
    const body = this.parseList(false);
    if (kind === 'range') this.rangeDepth--;
    let elseList: Node[] | undefined;
    let stop = body.stop;
    if (stop.word === 'else') {
      this.skipSpace();
      const next = this.peek();
      // `{{else if ...}}` / `{{else with ...}}`: an else holding one control that shares the end.
      if (next.k === 'keyword' && (next.text === 'if' || next.text === 'with') && kind !== 'range') {
        if (next.text !== kind)
          throw this.src.error(next.pos, `unexpected {{else ${next.text}}} in {{${kind}}}`);
        this.ti++;
        elseList = [this.parseControl(kind, next.pos)];
        this.vars.length = mark;
        return { t: kind, pos, pipe, list: body.nodes, elseList };
      }
      this.expectEnd('else');
      const rest = this.parseList(false);
      elseList = rest.nodes;
      stop = rest.stop;
      if (stop.word === 'else') throw this.src.error(stop.pos, `expected end; found {{else}}`);
    }
    if (stop.word !== 'end') throw this.src.error(pos, `unexpected EOF: {{${kind}}} has no {{end}}`);
    this.expectEnd('end');
    this.vars.length = mark;
    return { t: kind, pos, pipe, list: body.nodes, elseList };
  }

  // ---- pipelines ----

  private peek(): Tok {
    return this.toks[this.ti];
  }

  private next(): Tok {
    return this.toks[this.ti++];
  }

  private skipSpace(): void {
    while (this.toks[this.ti]?.k === 'space') this.ti++;
  }

  private expectEnd(context: string): void {
    this.skipSpace();
    const t = this.next();
    if (t.k !== 'end') throw this.src.error(t.pos, `unexpected ${describe(t)} in ${context}`);
  }

  /**
   * A pipeline up to the action's end (or a `)` when `inParens`). `maxDecl` variables may be
   * declared (`range` takes two: `$i, $v :=`).
   */
  private parsePipeline(context: string, maxDecl = 1, inParens = false): Pipe {
    this.skipSpace();
    const start = this.peek().pos;
    const decl: string[] = [];
    let assign = false;
    // Variable declarations: look ahead for `$x :=`, `$x =` or `$i, $v :=`.
    const save = this.ti;
    if (this.peek().k === 'var' && !this.peek().names?.length) {
      const names: string[] = [];
      let ok = false;
      for (;;) {
        const v = this.next();
        if (v.k !== 'var' || v.names?.length) break;
        names.push(v.text);
        this.skipSpace();
        const op = this.next();
        if (op.k === 'declare' || op.k === 'assign') {
          assign = op.k === 'assign';
          ok = true;
          break;
        }
        if (op.k === 'comma' && context === 'range' && names.length < maxDecl) {
          this.skipSpace();
          continue;
        }
        break;
      }
      if (ok) {
        if (names.length > maxDecl) throw this.src.error(start, `too many declarations in ${context}`);
        if (assign) {
          for (const n of names)
            if (!this.vars.includes(n))
              throw this.src.error(start, `undefined variable ${JSON.stringify(n)}`);
        } else {
          decl.push(...names);
        }
        if (assign) decl.push(...names);
      } else {
        this.ti = save;
      }
    }
    const cmds: Command[] = [];
    let afterPipe = false;
    for (;;) {
      this.skipSpace();
      const t = this.peek();
      if (t.k === 'end' || (inParens && t.k === 'rparen')) {
        // parse.go accepts a trailing "|": the pipe belongs to the command before it.
        if (!inParens) this.ti++;
        break;
      }
      if (t.k === 'pipe') {
        if (cmds.length === 0) throw this.src.error(t.pos, `unexpected "|" in ${context}`);
        if (afterPipe) throw this.src.error(t.pos, 'empty command');
        this.ti++;
        afterPipe = true;
        continue;
      }
      // A command ends only at "|", "}}" or ")": what follows it is one of those.
      cmds.push(this.parseCommand(inParens));
      afterPipe = false;
    }
    if (cmds.length === 0) throw this.src.error(start, `missing value for ${context}`);
    for (let i = 1; i < cmds.length; i++) {
      const a = cmds[i].args[0];
      if (a.t === 'bool' || a.t === 'dot' || a.t === 'nil' || a.t === 'number' || a.t === 'string')
        throw this.src.error(a.pos, `non executable command in pipeline stage ${i + 1}`);
    }
    // Declared variables become visible after the pipeline.
    if (!assign) this.vars.push(...decl);
    return { pos: start, decl, assign, cmds };
  }

  private parseCommand(inParens: boolean): Command {
    const pos = this.peek().pos;
    const args: Arg[] = [];
    for (;;) {
      this.skipSpace();
      const t = this.peek();
      if (t.k === 'end' || t.k === 'pipe' || (inParens && t.k === 'rparen')) break;
      if (args.length > 0 && this.toks[this.ti - 1].k !== 'space')
        throw this.src.error(t.pos, `missing space? unexpected ${describe(t)} in operand`);
      args.push(this.parseOperand());
    }
    if (args.length === 0) throw this.src.error(pos, 'empty command');
    return { pos, args };
  }

  private parseOperand(): Arg {
    const t = this.next();
    switch (t.k) {
      case 'field':
        return { t: 'field', pos: t.pos, names: t.names as string[] };
      case 'var':
        if (!this.vars.includes(t.text))
          throw this.src.error(t.pos, `undefined variable ${JSON.stringify(t.text)}`);
        return { t: 'var', pos: t.pos, name: t.text, names: t.names as string[] };
      case 'dot':
        return { t: 'dot', pos: t.pos };
      case 'nil':
        return { t: 'nil', pos: t.pos };
      case 'bool':
        return { t: 'bool', pos: t.pos, value: t.text === 'true' };
      case 'string':
        return { t: 'string', pos: t.pos, value: t.value as string };
      case 'char': {
        const cp = (t.value as string).codePointAt(0) ?? 0;
        return { t: 'number', pos: t.pos, text: t.text, int: BigInt(cp), float: cp, floatText: false };
      }
      case 'number':
        return numberArg(this.src, t);
      case 'ident':
        if (!this.hasFunc(t.text))
          throw this.src.error(
            t.pos,
            `function ${JSON.stringify(t.text)} not defined${this.whyUnknown(t.text)}`,
          );
        return { t: 'func', pos: t.pos, name: t.text };
      case 'lparen': {
        this.enter(t.pos);
        const pipe = this.parsePipeline('parenthesized pipeline', 0, true);
        this.depth--;
        const close = this.next();
        if (close?.k !== 'rparen') throw this.src.error(t.pos, 'unclosed left paren');
        const node: Arg = { t: 'pipe', pos: t.pos, pipe };
        if (this.peek().k === 'field' && this.peek().value === 'chain') {
          const f = this.next();
          return { t: 'chain', pos: t.pos, node, names: f.names as string[] };
        }
        return node;
      }
      default:
        throw this.src.error(t.pos, `unexpected ${describe(t)} in operand`);
    }
  }
}

function describe(t: Tok): string {
  switch (t.k) {
    case 'end':
      return '"}}"';
    case 'keyword':
      return `<${t.text}>`;
    case 'space':
      return 'space';
    default:
      return JSON.stringify(t.text);
  }
}
