// The command line as krakend reads it (krakend-cobra's root.go, parsed by cobra/pflag): each
// command has its own flags, short ones bundle (`run -dc FILE`, `check -tlc FILE`, `-cFILE`,
// `-c=FILE`), long ones take `--name value` or `--name=value`, `-d` counts (`-dd`), `-h`/`--help`
// works on every command, and `--` ends the flags. gw's own flags (`--workers`, `--front`, …) sit
// beside krakend's. Used by `gw` itself and by `gw health` to read the `gw run` of PID 1.

import type { FrontRequest } from '../server/platform.js';

export class UsageError extends Error {}

type Kind = 'bool' | 'count' | 'string';

interface FlagSpec {
  long: string;
  short?: string;
  kind: Kind;
  /** Argument name shown in the help (string flags). */
  arg?: string;
  help: string;
  /** Other long spellings gw has accepted before. */
  aliases?: string[];
}

export interface CommandSpec {
  name: string;
  aliases?: string[];
  summary: string;
  usage: string;
  flags: FlagSpec[];
  /** Exclusive flag groups (cobra's MarkFlagsMutuallyExclusive). */
  exclusive?: string[][];
}

const CONFIG: FlagSpec = {
  long: 'config',
  short: 'c',
  kind: 'string',
  arg: 'FILE',
  help: 'Path to the configuration file (.json, .yaml, .yml, .toml)',
};
const HELP_FLAG: FlagSpec = { long: 'help', short: 'h', kind: 'bool', help: 'Help for this command' };

export const COMMANDS: CommandSpec[] = [
  {
    name: 'run',
    summary: 'Runs the gateway.',
    usage:
      'gw run [-c FILE] [-p PORT] [-d] [--watch] [--workers N] [--front auto|uws|node] [--transform wasm|js] [--log-level LEVEL]',
    flags: [
      {
        ...CONFIG,
        help: 'Path to the configuration file; without it, the bundled example (examples/krakend.json)',
      },
      {
        long: 'debug',
        short: 'd',
        kind: 'count',
        help: 'Debug log level and the /__debug/ endpoint',
      },
      {
        long: 'port',
        short: 'p',
        kind: 'string',
        arg: 'PORT',
        help: 'Listening port (overrides "port" and KRAKEND_PORT)',
      },
      {
        long: 'watch',
        kind: 'bool',
        help: 'Reload (as SIGHUP does) when the configuration file, or with FC_ENABLE=1 the FC_SETTINGS, FC_PARTIALS and FC_TEMPLATES folders, change',
      },
      {
        long: 'workers',
        kind: 'string',
        arg: 'N',
        help: 'Worker threads serving the same port (default: one per core)',
      },
      {
        long: 'front',
        kind: 'string',
        arg: 'FRONT',
        help: 'HTTP front: auto (uWebSockets.js where its current build loads, node:http elsewhere), uws, or node',
      },
      { long: 'node-http', kind: 'bool', help: 'The same as --front node' },
      {
        long: 'transform',
        kind: 'string',
        arg: 'MODE',
        help: 'Response manipulation path: wasm (default) or js',
      },
      {
        long: 'log-level',
        kind: 'string',
        arg: 'LEVEL',
        help: 'DEBUG, INFO, WARNING, ERROR, CRITICAL (overrides telemetry/logging)',
      },
      HELP_FLAG,
    ],
  },
  {
    name: 'check',
    aliases: ['validate'],
    summary: 'Validates that the configuration file is valid.',
    usage: 'gw check -c FILE [-d] [-t] [-l | -n | -s SCHEMA] [-i INDENT]',
    flags: [
      CONFIG,
      {
        long: 'debug',
        short: 'd',
        kind: 'count',
        help: 'Prints how gw understands the configuration',
      },
      {
        long: 'test-gin-routes',
        short: 't',
        kind: 'bool',
        help: 'Builds the routing table as gw run would and tries every route',
        aliases: ['test-gin'],
      },
      {
        long: 'indent',
        short: 'i',
        kind: 'string',
        arg: 'INDENT',
        help: 'Indentation of the -d output (default: four spaces)',
      },
      {
        long: 'lint',
        short: 'l',
        kind: 'bool',
        help: "Lints against KrakenD CE 2.13's schema, built into gw (no download); and warns about risky settings",
      },
      {
        long: 'lint-no-network',
        short: 'n',
        kind: 'bool',
        help: 'The same as --lint (gw never downloads a schema)',
      },
      {
        long: 'lint-schema',
        short: 's',
        kind: 'string',
        arg: 'SCHEMA',
        help: 'Lints against a JSON schema file instead (draft 2019-09, e.g. a krakend-schema krakend.json)',
      },
      HELP_FLAG,
    ],
    exclusive: [['lint', 'lint-no-network', 'lint-schema']],
  },
  {
    name: 'health',
    summary: 'Asks the gw serving a configuration whether it is healthy.',
    usage: 'gw health [-c FILE] [-p PORT] [--pid PID]',
    flags: [
      {
        ...CONFIG,
        help: 'The configuration of the gw to ask; without it, the -c of the `gw run` that is PID 1 (or --pid), else ./krakend.json',
      },
      { long: 'port', short: 'p', kind: 'string', arg: 'PORT', help: 'The port to ask' },
      {
        long: 'pid',
        kind: 'string',
        arg: 'PID',
        help: 'The `gw run` process whose -c and -p are used (default 1)',
      },
      HELP_FLAG,
    ],
  },
  { name: 'version', summary: 'Shows the gw version.', usage: 'gw version', flags: [HELP_FLAG] },
  { name: 'help', summary: 'Help about any command.', usage: 'gw help [COMMAND]', flags: [HELP_FLAG] },
];

/** krakend commands gw does not have, and what to use instead. */
export const MISSING_COMMANDS: Record<string, string> = {
  audit: 'gw has no audit command: `gw check --lint` gives its most useful warnings',
  'check-plugin': 'gw cannot load Go plugins',
  'test-plugin': 'gw cannot load Go plugins',
};

export function commandSpec(name: string): CommandSpec | undefined {
  return COMMANDS.find((c) => c.name === name || c.aliases?.includes(name));
}

export interface ParsedCommandLine {
  command: string;
  /** Values by long flag name: true / a count / a string. */
  flags: Map<string, boolean | number | string>;
  /** Arguments that are not flags (after the command). */
  positional: string[];
}

/** Parses `argv` (without the program) the way pflag parses a cobra command's flags. */
export function parseCommandLine(argv: string[]): ParsedCommandLine {
  const [first = 'help', ...rest] = argv;
  // `gw --help`, `gw -h`: the root's help.
  if (first === '--help' || first === '-h') return { command: 'help', flags: new Map(), positional: [] };
  if (first === '--version' || first === '-v')
    return { command: 'version', flags: new Map(), positional: [] };
  const spec = commandSpec(first);
  if (spec === undefined) {
    if (first.startsWith('-')) throw new UsageError(`unknown flag ${first} before a command`);
    throw new UsageError(MISSING_COMMANDS[first] ?? `unknown command "${first}"`);
  }
  const flags = new Map<string, boolean | number | string>();
  const positional: string[] = [];
  const byLong = (name: string) => spec.flags.find((f) => f.long === name || f.aliases?.includes(name));
  const byShort = (c: string) => spec.flags.find((f) => f.short === c);
  const set = (f: FlagSpec, value: string | undefined, shown: string) => {
    if (f.kind === 'count') {
      if (value !== undefined) {
        const n = Number(value);
        if (!Number.isInteger(n) || n < 0) throw new UsageError(`${shown} expects a count, found "${value}"`);
        flags.set(f.long, n);
      } else flags.set(f.long, ((flags.get(f.long) as number | undefined) ?? 0) + 1);
    } else if (f.kind === 'bool') {
      if (value === undefined || value === 'true' || value === '1') flags.set(f.long, true);
      else if (value === 'false' || value === '0') flags.set(f.long, false);
      else throw new UsageError(`${shown} expects true or false, found "${value}"`);
    } else {
      if (value === undefined) throw new UsageError(`${shown} needs a value`);
      flags.set(f.long, value);
    }
  };
  for (let i = 0; i < rest.length; i++) {
    const a = rest[i];
    if (a === '--') {
      positional.push(...rest.slice(i + 1));
      break;
    }
    if (a.startsWith('--')) {
      const eq = a.indexOf('=');
      const name = eq < 0 ? a.slice(2) : a.slice(2, eq);
      const f = byLong(name);
      if (f === undefined) throw new UsageError(`unknown flag: --${name}`);
      let value = eq < 0 ? undefined : a.slice(eq + 1);
      if (value === undefined && f.kind === 'string') {
        value = rest[++i];
        if (value === undefined) throw new UsageError(`flag needs an argument: --${name}`);
      }
      set(f, value, `--${name}`);
      continue;
    }
    if (a.startsWith('-') && a.length > 1) {
      // A bundle of short flags: booleans and counts, then at most one that takes the rest of the
      // token (`-cFILE`, `-c=FILE`) or the next argument (`-dc FILE`).
      for (let k = 1; k < a.length; k++) {
        const f = byShort(a[k]);
        if (f === undefined) throw new UsageError(`unknown shorthand flag: '${a[k]}' in ${a}`);
        const tail = a.slice(k + 1);
        if (f.kind === 'string') {
          let value = tail.startsWith('=') ? tail.slice(1) : tail;
          if (value === '') {
            value = rest[++i];
            if (value === undefined) throw new UsageError(`flag needs an argument: '${a[k]}' in -${a[k]}`);
          }
          set(f, value, `-${a[k]}`);
          break;
        }
        if (tail.startsWith('=')) {
          set(f, tail.slice(1), `-${a[k]}`);
          break;
        }
        set(f, undefined, `-${a[k]}`);
      }
      continue;
    }
    positional.push(a);
  }
  for (const group of spec.exclusive ?? []) {
    const given = group.filter((name) => flags.has(name));
    if (given.length > 1)
      throw new UsageError(
        `if any flags in the group [${group.join(' ')}] are set none of the others can be; [${given.join(' ')}] were all set`,
      );
  }
  return { command: spec.name, flags, positional };
}

/** `gw COMMAND --help`. */
export function commandHelp(spec: CommandSpec): string {
  const rows = spec.flags.map((f) => {
    const names = `${f.short ? `-${f.short}, ` : '    '}--${f.long}${f.arg ? ` ${f.arg}` : ''}`;
    return { names, help: f.help };
  });
  const width = Math.max(...rows.map((r) => r.names.length)) + 2;
  const lines = [spec.summary, '', 'Usage:', `  ${spec.usage}`, ''];
  if (spec.aliases) lines.push('Aliases:', `  ${[spec.name, ...spec.aliases].join(', ')}`, '');
  lines.push('Flags:');
  for (const r of rows) lines.push(`  ${r.names.padEnd(width)}${r.help}`);
  if (spec.name === 'check' || spec.name === 'run')
    lines.push('', 'Short flags combine: `gw run -dc krakend.json`, `gw check -tlc krakend.json`.');
  return `${lines.join('\n')}\n`;
}

/** Typed accessors over the parsed flags. */
export function flagString(p: ParsedCommandLine, name: string): string | undefined {
  const v = p.flags.get(name);
  return typeof v === 'string' ? v : undefined;
}
export function flagBool(p: ParsedCommandLine, name: string): boolean {
  const v = p.flags.get(name);
  return v === true || (typeof v === 'number' && v > 0);
}

export function intFlag(
  p: ParsedCommandLine,
  name: string,
  min: number,
  max: number,
  what: string,
): number | undefined {
  const v = flagString(p, name);
  if (v === undefined) return undefined;
  const n = Number(v);
  if (v.trim() === '' || !Number.isInteger(n) || n < min || n > max)
    throw new UsageError(`--${name} expects ${what}, found "${v}"`);
  return n;
}

export function frontFlag(p: ParsedCommandLine): FrontRequest {
  const v = flagString(p, 'front');
  if (v === undefined) return flagBool(p, 'node-http') ? 'node' : 'auto';
  if (v !== 'auto' && v !== 'uws' && v !== 'node') throw new UsageError('--front expects auto, uws or node');
  return v;
}
