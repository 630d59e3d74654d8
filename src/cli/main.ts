// The `gw` command line, shaped like krakend's: run, check, health, version, help; the flags are
// parsed in args.ts. Exit codes: 0 ok, 1 invalid config (or failure to start), 2 usage.

import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { GW_VERSION } from '../proxy/backend-request.js';
import {
  COMMANDS,
  type CommandSpec,
  commandHelp,
  commandSpec,
  flagBool,
  flagString,
  frontFlag,
  intFlag,
  type ParsedCommandLine,
  parseCommandLine,
  UsageError,
} from './args.js';
import type { CheckCommandOptions } from './check.js';
import type { HealthCommandOptions } from './health.js';
import type { RunCommandOptions } from './run.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const EXAMPLE_CONFIG = join(ROOT, 'examples', 'krakend.json');

export const HELP = `gw ${GW_VERSION}: an API gateway that serves KrakenD v3 configurations

Usage:
  gw COMMAND [flags]

Commands:
${COMMANDS.map((c) => `  ${c.name.padEnd(9)}${c.summary}`).join('\n')}

  run      Without -c, serves the bundled example (examples/krakend.json), whose backends are
           gw's own /__debug/ and /__echo/. SIGHUP (or --watch) reads, checks and serves the
           configuration again without a restart; an invalid one is logged and the running one stays.
  check    Every error with its JSON path; -l holds the file to KrakenD CE 2.13's schema.
  health   Exit 0 when the health endpoint of the gw serving FILE answers 200, else 1.

Flags are krakend's (short ones combine: \`gw run -dc krakend.json\`, \`gw check -tlc FILE\`);
\`gw COMMAND --help\` lists a command's flags.

Exit codes: 0 ok, 1 invalid configuration or failure to start, 2 usage error.
`;

export async function main(argv: string[]): Promise<number> {
  let p: ParsedCommandLine;
  let options: CommandOptions;
  try {
    p = parseCommandLine(argv);
    options = commandOptions(p);
  } catch (err) {
    if (err instanceof UsageError) {
      const spec = commandSpec(argv[0] ?? '');
      process.stderr.write(`gw: ${err.message}\n\n${spec ? commandHelp(spec) : HELP}`);
      return 2;
    }
    throw err;
  }
  if (flagBool(p, 'help')) {
    process.stdout.write(commandHelp(commandSpec(p.command)!));
    return 0;
  }
  // Each command loads only what it needs: `gw health` runs every few seconds in a container.
  switch (options.command) {
    case 'run':
      return (await import('./run.js')).runCommand(options);
    case 'check':
      return (await import('./check.js')).checkCommand(options);
    case 'health':
      return (await import('./health.js')).healthCommand(options);
    case 'version':
      process.stdout.write(`gw version ${GW_VERSION} (KrakenD configuration version 3)\n`);
      return 0;
    case 'help':
      process.stdout.write(options.topic ? commandHelp(options.topic) : HELP);
      return 0;
  }
}

type CommandOptions =
  | ({ command: 'run' } & RunCommandOptions)
  | ({ command: 'check' } & CheckCommandOptions)
  | ({ command: 'health' } & HealthCommandOptions)
  | { command: 'version' }
  | { command: 'help'; topic?: CommandSpec };

/** The parsed flags as each command's options; a bad value is a UsageError. */
function commandOptions(p: ParsedCommandLine): CommandOptions {
  const config = flagString(p, 'config');
  if (p.positional.length > 0 && p.command !== 'help')
    throw new UsageError(`unexpected argument "${p.positional[0]}" (the configuration file goes after -c)`);
  switch (p.command) {
    case 'run': {
      const transform = flagString(p, 'transform') ?? 'wasm';
      if (transform !== 'wasm' && transform !== 'js') throw new UsageError('--transform expects wasm or js');
      return {
        command: 'run',
        config: config ?? EXAMPLE_CONFIG,
        example: config === undefined,
        port: intFlag(p, 'port', 0, 65535, 'a port number 0-65535'),
        debug: flagBool(p, 'debug'),
        watch: flagBool(p, 'watch'),
        workers: intFlag(p, 'workers', 1, 256, 'an integer 1-256'),
        front: frontFlag(p),
        transform,
        logLevel: flagString(p, 'log-level'),
      };
    }
    case 'check':
      if (config === undefined && !flagBool(p, 'help'))
        throw new UsageError('check needs -c FILE (the configuration file to check)');
      return {
        command: 'check',
        config: config ?? '',
        debug: flagBool(p, 'debug'),
        lint: flagBool(p, 'lint') || flagBool(p, 'lint-no-network'),
        lintSchema: flagString(p, 'lint-schema'),
        indent: flagString(p, 'indent'),
        testRoutes: flagBool(p, 'test-gin-routes'),
      };
    case 'health':
      return {
        command: 'health',
        config,
        port: intFlag(p, 'port', 0, 65535, 'a port number 0-65535'),
        pid: intFlag(p, 'pid', 1, 2 ** 31, 'a process id'),
      };
    case 'version':
      return { command: 'version' };
    default: {
      const name = p.positional[0];
      const topic = name === undefined ? undefined : commandSpec(name);
      if (name !== undefined && topic === undefined) throw new UsageError(`unknown help topic "${name}"`);
      return { command: 'help', topic };
    }
  }
}
