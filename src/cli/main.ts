// The `gw` command line, shaped like krakend's: run, check, version, help.
// Exit codes: 0 ok, 1 invalid config (or failure to start), 2 usage.

import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { GW_VERSION } from '../proxy/backend-request.js';
import type { FrontRequest } from '../server/platform.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const EXAMPLE_CONFIG = join(ROOT, 'examples', 'krakend.json');

export const HELP = `gw ${GW_VERSION}: an API gateway that serves KrakenD v3 configurations

Usage:
  gw run   [-c FILE] [-p PORT] [-d] [--watch] [--workers N] [--front auto|uws|node] [--transform wasm|js] [--log-level LEVEL]
  gw check -c FILE [-d] [--lint] [-t]
  gw health [-c FILE] [-p PORT] [--pid PID]
  gw version
  gw help

Commands:
  run      Serve the configuration. Without -c, serves the bundled example
           (examples/krakend.json), whose backends are gw's own /__debug/ and /__echo/.
           SIGHUP reads, checks and serves the configuration again without a restart (an
           invalid one is logged and the running one stays).
  check    Validate a configuration: every error with its JSON path. Exit 0 valid, 1 invalid.
  health   Ask the gw serving FILE whether it is healthy (its port, listen_ip, health_path,
           TLS, as gw run reads them): exit 0 when its health endpoint answers 200, else 1.
           Without -c: the -c and -p of the \`gw run\` that is PID 1 (a container's
           entrypoint) or --pid PID, else ./krakend.json.
  version  Print the version.
  help     This text.

Options:
  -c, --config FILE     krakend.json / .yaml / .yml / .toml
  -p, --port PORT       Listen port (overrides "port" and KRAKEND_PORT); health: the port to ask
  -d, --debug           run: debug log level and the /__debug/ endpoint; check: print the parsed config
  --watch               run: reload when the configuration file (and, with FC_ENABLE=1, the
                        FC_SETTINGS, FC_PARTIALS and FC_TEMPLATES folders) change
  --workers N           Worker threads serving the same port (default: one per core)
  --front FRONT         HTTP front: auto (default: uWebSockets.js where its current build
                        loads, node:http elsewhere), uws (also the old build, on Node 20),
                        or node (node:http); --node-http is --front node
  --transform MODE      Response manipulation path: wasm (default) or js
  --log-level LEVEL     DEBUG, INFO, WARNING, ERROR, CRITICAL (overrides telemetry/logging)
  --lint                check: also warn about risky settings
  -t, --test-gin        check: also build the routing table, as \`gw run\` would

Exit codes: 0 ok, 1 invalid configuration or failure to start, 2 usage error.
`;

class UsageError extends Error {}

interface Parsed {
  command: string;
  config?: string;
  port?: number;
  debug: boolean;
  lint: boolean;
  testRoutes: boolean;
  watch: boolean;
  workers?: number;
  front: FrontRequest;
  transform: 'wasm' | 'js';
  logLevel?: string;
  pid?: number;
}

function parseArgs(argv: string[]): Parsed {
  const [command = 'help', ...rest] = argv;
  const p: Parsed = {
    command,
    debug: false,
    lint: false,
    testRoutes: false,
    watch: false,
    front: 'auto',
    transform: 'wasm',
  };
  const value = (i: number, flag: string): string => {
    const v = rest[i + 1];
    if (v === undefined || v.startsWith('-')) throw new UsageError(`${flag} needs a value`);
    return v;
  };
  for (let i = 0; i < rest.length; i++) {
    const a = rest[i];
    switch (a) {
      case '-c':
      case '--config':
        p.config = value(i++, a);
        break;
      case '-p':
      case '--port': {
        const v = Number(value(i++, a));
        if (!Number.isInteger(v) || v < 0 || v > 65535)
          throw new UsageError(`${a} expects a port number 0-65535`);
        p.port = v;
        break;
      }
      case '-d':
      case '--debug':
        p.debug = true;
        break;
      case '--lint':
        p.lint = true;
        break;
      case '--watch':
        p.watch = true;
        break;
      case '-t':
      case '--test-gin':
        p.testRoutes = true;
        break;
      case '--workers': {
        const v = Number(value(i++, a));
        if (!Number.isInteger(v) || v < 1 || v > 256)
          throw new UsageError('--workers expects an integer 1-256');
        p.workers = v;
        break;
      }
      case '--node-http':
        p.front = 'node';
        break;
      case '--front': {
        const v = value(i++, a);
        if (v !== 'auto' && v !== 'uws' && v !== 'node')
          throw new UsageError('--front expects auto, uws or node');
        p.front = v;
        break;
      }
      case '--transform': {
        const v = value(i++, a);
        if (v !== 'wasm' && v !== 'js') throw new UsageError('--transform expects wasm or js');
        p.transform = v;
        break;
      }
      case '--log-level':
        p.logLevel = value(i++, a);
        break;
      case '--pid': {
        const v = Number(value(i++, a));
        if (!Number.isInteger(v) || v < 1) throw new UsageError('--pid expects a process id');
        p.pid = v;
        break;
      }
      default:
        throw new UsageError(`unknown argument ${a}`);
    }
  }
  return p;
}

export async function main(argv: string[]): Promise<number> {
  let p: Parsed;
  try {
    p = parseArgs(argv);
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(`gw: ${err.message}\n\n${HELP}`);
      return 2;
    }
    throw err;
  }
  // Each command loads only what it needs: `gw health` runs every few seconds in a container.
  switch (p.command) {
    case 'run':
      return (await import('./run.js')).runCommand({
        ...p,
        config: p.config ?? EXAMPLE_CONFIG,
        example: !p.config,
      });
    case 'check':
      if (!p.config) {
        process.stderr.write(`gw: check needs -c FILE\n\n${HELP}`);
        return 2;
      }
      return (await import('./check.js')).checkCommand({
        config: p.config,
        debug: p.debug,
        lint: p.lint,
        testRoutes: p.testRoutes,
      });
    case 'health':
      return (await import('./health.js')).healthCommand({
        config: p.config,
        port: p.port,
        pid: p.pid,
      });
    case 'version':
    case '--version':
    case '-v':
      process.stdout.write(`gw version ${GW_VERSION} (KrakenD configuration version 3)\n`);
      return 0;
    case 'help':
    case '--help':
    case '-h':
      process.stdout.write(HELP);
      return 0;
    default:
      process.stderr.write(`gw: unknown command ${p.command}\n\n${HELP}`);
      return 2;
  }
}
