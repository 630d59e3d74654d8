// Walks a parsed template set as Go's text/template/exec.go does: pipelines pass each command's
// result as the next one's last argument, `and`/`or` stop at the deciding operand, variables
// live until the end of the control structure that declared them, and `range` visits map keys
// in sorted order.

import type { Arg, Command, Node, Pipe, Template } from './parse.js';
import { TemplateError } from './parse.js';
import { type GoValue, goTypeName, isMap, isTrue, printValue, sortedKeys } from './values.js';

export type ParamKind = 'any' | 'string' | 'int' | 'float' | 'bool';

/** A template function: its parameters as Go declares them, and the call. */
export interface GoFunc {
  params: ParamKind[];
  /** The kind of the trailing `...` parameter, when there is one. */
  variadic?: ParamKind;
  call(args: GoValue[]): GoValue;
}

const KIND_NAME: Record<ParamKind, string> = {
  any: 'interface {}',
  string: 'string',
  int: 'int',
  float: 'float64',
  bool: 'bool',
};

/** Go's text/template limit is 100000; JavaScript's stack is smaller. */
const MAX_DEPTH = 1000;

/** The value a pipeline stage hands to the next; absent for the first stage. */
const NO_FINAL: unique symbol = Symbol('no final');
type Final = GoValue | typeof NO_FINAL;

const BREAK = 1;
const CONTINUE = 2;

export class Executor {
  private out: string[] = [];
  private vars: Array<{ name: string; value: GoValue }> = [];
  private tmpl!: Template;
  private depth = 0;

  constructor(
    private readonly templates: Map<string, Template>,
    private readonly funcs: Map<string, GoFunc>,
  ) {}

  execute(name: string, data: GoValue): string {
    const t = this.templates.get(name);
    if (!t) throw new Error(`template: no template ${JSON.stringify(name)}`);
    this.out = [];
    this.tmpl = t;
    this.vars = [{ name: '$', value: data }];
    this.walkList(data, t.root);
    return this.out.join('');
  }

  private fail(pos: number, at: string, message: string): never {
    throw this.tmpl.source.error(pos, `executing ${JSON.stringify(this.tmpl.name)} at <${at}>: ${message}`);
  }

  private walkList(dot: GoValue, nodes: Node[]): number {
    for (const n of nodes) {
      const signal = this.walk(dot, n);
      if (signal) return signal;
    }
    return 0;
  }

  private walk(dot: GoValue, node: Node): number {
    switch (node.t) {
      case 'text':
        this.out.push(node.text);
        return 0;
      case 'action': {
        const v = this.evalPipeline(dot, node.pipe);
        if (node.pipe.decl.length === 0) this.out.push(printValue(v));
        return 0;
      }
      case 'if':
      case 'with': {
        const mark = this.vars.length;
        const v = this.evalPipeline(dot, node.pipe);
        let signal = 0;
        if (isTrue(v)) signal = this.walkList(node.t === 'with' ? v : dot, node.list);
        else if (node.elseList) signal = this.walkList(dot, node.elseList);
        this.vars.length = mark;
        return signal;
      }
      case 'range':
        return this.walkRange(dot, node);
      case 'template':
        return this.walkTemplate(dot, node);
      case 'break':
        return BREAK;
      case 'continue':
        return CONTINUE;
    }
  }

  private walkRange(dot: GoValue, node: Extract<Node, { t: 'range' }>): number {
    const mark = this.vars.length;
    const pipe = node.pipe;
    const v = this.evalPipelineValue(dot, pipe);
    const decl = pipe.decl;
    const one = (index: GoValue, elem: GoValue): number => {
      if (pipe.assign) {
        if (decl.length === 1) this.setVar(decl[0], elem);
        else if (decl.length === 2) {
          this.setVar(decl[0], index);
          this.setVar(decl[1], elem);
        }
      } else if (decl.length === 1) this.vars.push({ name: decl[0], value: elem });
      else if (decl.length === 2)
        this.vars.push({ name: decl[0], value: index }, { name: decl[1], value: elem });
      const signal = this.walkList(elem, node.list);
      this.vars.length = mark;
      return signal;
    };
    let count = 0;
    let stop = false;
    const visit = (index: GoValue, elem: GoValue) => {
      count++;
      const s = one(index, elem);
      if (s === BREAK) stop = true;
    };
    if (Array.isArray(v)) {
      for (let i = 0; i < v.length && !stop; i++) visit(BigInt(i), v[i]);
    } else if (isMap(v)) {
      for (const k of sortedKeys(v)) {
        if (stop) break;
        visit(k, v[k]);
      }
    } else if (typeof v === 'bigint') {
      if (decl.length > 1)
        this.fail(node.pos, 'range', `can't use ${v} to iterate over more than one variable`);
      for (let i = 0n; i < v && !stop; i++) visit(i, i);
    } else if (v !== undefined && v !== null) {
      this.fail(node.pos, 'range', `range can't iterate over ${printValue(v)}`);
    }
    this.vars.length = mark;
    if (count === 0 && node.elseList) return this.walkList(dot, node.elseList);
    return 0;
  }

  private walkTemplate(dot: GoValue, node: Extract<Node, { t: 'template' }>): number {
    const t = this.templates.get(node.name);
    if (!t)
      this.fail(
        node.pos,
        `{{template ${JSON.stringify(node.name)}}}`,
        `template ${JSON.stringify(node.name)} not defined`,
      );
    if (this.depth >= MAX_DEPTH)
      this.fail(
        node.pos,
        `{{template ${JSON.stringify(node.name)}}}`,
        `exceeded maximum template depth (${MAX_DEPTH})`,
      );
    const newDot = node.pipe ? this.evalPipeline(dot, node.pipe) : undefined;
    const saved = { vars: this.vars, tmpl: this.tmpl };
    this.vars = [{ name: '$', value: newDot }];
    this.tmpl = t;
    this.depth++;
    try {
      this.walkList(newDot, t.root);
    } finally {
      this.depth--;
      this.vars = saved.vars;
      this.tmpl = saved.tmpl;
    }
    return 0;
  }

  // ---- pipelines ----

  private evalPipelineValue(dot: GoValue, pipe: Pipe): GoValue {
    let value: Final = NO_FINAL;
    for (const cmd of pipe.cmds) value = this.evalCommand(dot, cmd, value);
    return value === NO_FINAL ? undefined : value;
  }

  private evalPipeline(dot: GoValue, pipe: Pipe): GoValue {
    const value = this.evalPipelineValue(dot, pipe);
    for (const name of pipe.decl) {
      if (pipe.assign) this.setVar(name, value);
      else this.vars.push({ name, value });
    }
    return value;
  }

  private setVar(name: string, value: GoValue): void {
    for (let i = this.vars.length - 1; i >= 0; i--) {
      if (this.vars[i].name === name) {
        this.vars[i].value = value;
        return;
      }
    }
  }

  private varValue(name: string): GoValue {
    for (let i = this.vars.length - 1; i >= 0; i--) if (this.vars[i].name === name) return this.vars[i].value;
    return undefined;
  }

  private evalCommand(dot: GoValue, cmd: Command, final: Final): GoValue {
    const first = cmd.args[0];
    switch (first.t) {
      case 'field':
        return this.evalFieldChain(dot, first, first.names, cmd.args, final);
      case 'chain':
        return this.evalFieldChain(this.evalArgValue(dot, first.node), first, first.names, cmd.args, final);
      case 'var': {
        const v = this.varValue(first.name);
        if (first.names.length === 0) {
          this.notAFunction(cmd.args, final);
          return v;
        }
        return this.evalFieldChain(v, first, first.names, cmd.args, final);
      }
      case 'func':
        return this.evalFunction(dot, first, cmd.args.slice(1), final);
      case 'pipe':
        this.notAFunction(cmd.args, final);
        return this.evalPipelineValue(dot, first.pipe);
      case 'nil':
        return this.fail(first.pos, 'nil', 'nil is not a command');
      default:
        this.notAFunction(cmd.args, final);
        return this.constant(dot, first);
    }
  }

  private constant(dot: GoValue, a: Arg): GoValue {
    switch (a.t) {
      case 'dot':
        return dot;
      case 'bool':
        return a.value;
      case 'string':
        return a.value;
      case 'number':
        // parse/node.go + exec.go idealConstant: `1.0` and `1e3` are float64, `1` is int.
        if (a.floatText || a.int === undefined) return a.float;
        return a.int;
      default:
        return undefined;
    }
  }

  private notAFunction(args: Arg[], final: Final): void {
    if (args.length > 1 || final !== NO_FINAL)
      this.fail(args[0].pos, argText(args[0]), `can't give argument to non-function ${argText(args[0])}`);
  }

  private evalFieldChain(receiver: GoValue, node: Arg, names: string[], args: Arg[], final: Final): GoValue {
    let r = receiver;
    for (let i = 0; i < names.length - 1; i++) r = this.evalField(node, names[i], [], NO_FINAL, r);
    return this.evalField(node, names[names.length - 1], args, final, r);
  }

  private evalField(node: Arg, name: string, args: Arg[], final: Final, receiver: GoValue): GoValue {
    if (receiver === undefined) return undefined;
    if (receiver === null) this.fail(node.pos, argText(node), `nil pointer evaluating interface {}.${name}`);
    if (isMap(receiver)) {
      if (args.length > 1 || final !== NO_FINAL)
        this.fail(node.pos, argText(node), `${name} is not a method but has arguments`);
      return Object.hasOwn(receiver, name) ? receiver[name] : undefined;
    }
    return this.fail(node.pos, argText(node), `can't evaluate field ${name} in type ${goTypeName(receiver)}`);
  }

  private evalFunction(dot: GoValue, node: Extract<Arg, { t: 'func' }>, args: Arg[], final: Final): GoValue {
    const name = node.name;
    const fn = this.funcs.get(name) as GoFunc;
    const numIn = args.length + (final === NO_FINAL ? 0 : 1);
    const want = fn.params.length;
    if (fn.variadic !== undefined ? numIn < want : numIn !== want)
      this.fail(
        node.pos,
        name,
        `wrong number of args for ${name}: want ${fn.variadic !== undefined ? 'at least ' : ''}${want} got ${numIn}`,
      );
    const kindAt = (i: number): ParamKind => (i < want ? fn.params[i] : (fn.variadic as ParamKind));
    if (name === 'and' || name === 'or') {
      // funcs.go and/or: evaluation stops at the first operand that decides.
      let v: GoValue;
      for (const a of args) {
        v = this.evalArg(dot, 'any', a);
        if (isTrue(v) === (name === 'or')) return v;
      }
      if (final !== NO_FINAL) v = this.validateType(node, final, 'any');
      return v;
    }
    const argv: GoValue[] = args.map((a, i) => this.evalArg(dot, kindAt(i), a));
    if (final !== NO_FINAL) argv.push(this.validateType(node, final, kindAt(args.length)));
    try {
      return fn.call(argv);
    } catch (err) {
      if (err instanceof TemplateError) throw err;
      const message = err instanceof Error ? err.message : String(err);
      return this.fail(node.pos, name, `error calling ${name}: ${message}`);
    }
  }

  /** An operand's value, whatever its type (a chain's receiver). */
  private evalArgValue(dot: GoValue, a: Arg): GoValue {
    if (a.t === 'nil') return this.fail(a.pos, 'nil', `indirection through explicit nil in ${argText(a)}`);
    return this.evalArg(dot, 'any', a);
  }

  private evalArg(dot: GoValue, kind: ParamKind, a: Arg): GoValue {
    switch (a.t) {
      case 'dot':
        return this.validateType(a, dot, kind);
      case 'nil':
        if (kind === 'any') return null;
        return this.fail(a.pos, 'nil', `cannot assign nil to ${KIND_NAME[kind]}`);
      case 'field':
        return this.validateType(a, this.evalFieldChain(dot, a, a.names, [a], NO_FINAL), kind);
      case 'var': {
        const v = this.varValue(a.name);
        return this.validateType(
          a,
          a.names.length ? this.evalFieldChain(v, a, a.names, [a], NO_FINAL) : v,
          kind,
        );
      }
      case 'pipe':
        return this.validateType(a, this.evalPipelineValue(dot, a.pipe), kind);
      case 'func':
        return this.validateType(a, this.evalFunction(dot, a, [], NO_FINAL), kind);
      case 'chain':
        return this.validateType(
          a,
          this.evalFieldChain(this.evalArgValue(dot, a.node), a, a.names, [a], NO_FINAL),
          kind,
        );
    }
    // Literals: exec.go evalBool/evalString/evalInteger/evalFloat/evalEmptyInterface.
    switch (kind) {
      case 'any':
        return this.constant(dot, a);
      case 'bool':
        if (a.t === 'bool') return a.value;
        break;
      case 'string':
        if (a.t === 'string') return a.value;
        break;
      case 'int':
        if (a.t === 'number' && a.int !== undefined) return a.int;
        break;
      case 'float':
        if (a.t === 'number' && a.float !== undefined) return a.float;
        break;
    }
    return this.fail(a.pos, argText(a), `expected ${KIND_NAME[kind]}; found ${argText(a)}`);
  }

  private validateType(node: Arg, v: GoValue, kind: ParamKind): GoValue {
    if (v === undefined) {
      if (kind === 'any') return null;
      return this.fail(node.pos, argText(node), `invalid value; expected ${KIND_NAME[kind]}`);
    }
    if (kind === 'any') return v;
    const ok =
      (kind === 'string' && typeof v === 'string') ||
      (kind === 'int' && typeof v === 'bigint') ||
      (kind === 'float' && typeof v === 'number') ||
      (kind === 'bool' && typeof v === 'boolean');
    if (ok) return v;
    const got = v === null ? 'interface {}' : goTypeName(v);
    return this.fail(
      node.pos,
      argText(node),
      `wrong type for value; expected ${KIND_NAME[kind]}; got ${got}`,
    );
  }
}

/** An operand as Go's node String() prints it in `at <...>`. */
export function argText(a: Arg): string {
  switch (a.t) {
    case 'field':
      return `.${a.names.join('.')}`;
    case 'var':
      return [a.name, ...a.names].join('.');
    case 'dot':
      return '.';
    case 'nil':
      return 'nil';
    case 'bool':
      return String(a.value);
    case 'string':
      return JSON.stringify(a.value);
    case 'number':
      return a.text;
    case 'func':
      return a.name;
    case 'pipe':
      return `(${a.pipe.cmds.map((c) => c.args.map(argText).join(' ')).join(' | ')})`;
    case 'chain':
      return `${argText(a.node)}.${a.names.join('.')}`;
  }
}
