// `gw run`: load and check the configuration, then serve it until SIGTERM or SIGINT.

import { checkConfig, formatIssues } from '../config/index.js';
import { loadModulesFor } from '../extensions/registry.js';
import type { FrontRequest } from '../server/platform.js';
import { serve } from '../server/run.js';
import type { ServiceConfig } from '../types.js';
import { readConfigFile } from './config-file.js';

/** The bundled example's backends: gw itself, on the port it was written for. */
const EXAMPLE_SELF = 'http://127.0.0.1:8080';

export interface RunCommandOptions {
  config: string;
  /** The bundled example (no -c): its backends are pointed at the port actually served. */
  example: boolean;
  port?: number;
  debug: boolean;
  workers?: number;
  front: FrontRequest;
  transform: 'wasm' | 'js';
  logLevel?: string;
}

async function loadChecked(file: string): Promise<ServiceConfig | number> {
  const config = readConfigFile(file);
  if (config === undefined) return 1;
  await loadModulesFor(config);
  const { errors, warnings } = checkConfig(config);
  if (errors.length > 0 || warnings.length > 0) process.stderr.write(formatIssues(errors, warnings));
  if (errors.length > 0) return 1;
  return config;
}

/** The bundled example calls gw itself: point it at the port actually served. */
function selfTarget(config: ServiceConfig, port: number): ServiceConfig {
  const self = `http://127.0.0.1:${port}`;
  const fix = (hosts?: string[]) => hosts?.map((h) => (h === EXAMPLE_SELF ? self : h));
  return {
    ...config,
    host: fix(config.host),
    endpoints: config.endpoints?.map((ep) => ({
      ...ep,
      backend: ep.backend?.map((b) => ({ ...b, host: fix(b.host) })),
    })),
  };
}

export async function runCommand(p: RunCommandOptions): Promise<number> {
  const file = p.config;
  const loaded = await loadChecked(file);
  if (typeof loaded === 'number') return loaded;
  let service = loaded;
  const port = p.port ?? service.port ?? 8080;
  if (p.example) service = selfTarget(service, port);
  if (p.debug) service = { ...service, debug_endpoint: true };
  // Signals are caught before the workers start: a SIGTERM while the last worker is still
  // starting must drain and exit 0 too, not kill the process.
  let signalled = false;
  let onSignal = () => {
    signalled = true;
  };
  const handler = () => onSignal();
  process.on('SIGTERM', handler);
  process.on('SIGINT', handler);
  let running: Awaited<ReturnType<typeof serve>>;
  try {
    running = await serve({
      service,
      port,
      workers: p.workers,
      front: p.front,
      transform: p.transform,
      logLevel: p.logLevel ?? (p.debug ? 'debug' : undefined),
    });
  } catch (err) {
    process.stderr.write(`gw: cannot start: ${err instanceof Error ? err.message : String(err)}\n`);
    return 1;
  }
  return new Promise<number>((resolve) => {
    let stopping = false;
    onSignal = () => {
      if (stopping) return;
      stopping = true;
      running.stop().then(
        () => resolve(0),
        () => resolve(1),
      );
    };
    if (signalled) onSignal();
  });
}
