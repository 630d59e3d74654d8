// `gw run`: load and check the configuration, then serve it until SIGTERM or SIGINT. SIGHUP (and
// with --watch, a change to the configuration's files) reads and checks it again and, when valid,
// has every worker serve it; when not, every issue is logged and the running one stays.

import { type FSWatcher, watch } from 'node:fs';
import { basename, dirname, resolve } from 'node:path';
import { checkConfig, formatIssues } from '../config/index.js';
import { loadModulesFor } from '../extensions/registry.js';
import type { FrontRequest } from '../server/platform.js';
import { type RunningGateway, serve } from '../server/run.js';
import type { ConfigIssue, ServiceConfig } from '../types.js';
import { loadConfigOrIssues, readConfigFile } from './config-file.js';

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
  /** Reload when the configuration's files change. */
  watch?: boolean;
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

/** The configuration in `file`, loaded and checked again for a reload, or every issue found. */
async function reloadChecked(file: string): Promise<ServiceConfig | ConfigIssue[]> {
  let config: ServiceConfig;
  try {
    const loaded = loadConfigOrIssues(file);
    if (Array.isArray(loaded)) return loaded;
    config = loaded;
  } catch (err) {
    return [{ path: '$', message: err instanceof Error ? err.message : String(err) }];
  }
  try {
    await loadModulesFor(config);
  } catch (err) {
    return [{ path: '$.extra_config', message: err instanceof Error ? err.message : String(err) }];
  }
  const { errors } = checkConfig(config);
  return errors.length > 0 ? errors : config;
}

/** What --watch watches: the configuration file, and the Flexible Configuration folders when on. */
export function watchedPaths(
  file: string,
  env: NodeJS.ProcessEnv = process.env,
): { files: string[]; dirs: string[] } {
  const dirs: string[] = [];
  if (env.FC_ENABLE === '1')
    for (const name of ['FC_SETTINGS', 'FC_PARTIALS', 'FC_TEMPLATES']) {
      const dir = env[name];
      if (dir !== undefined && dir !== '') dirs.push(resolve(dir));
    }
  return { files: [resolve(file)], dirs };
}

/** How long --watch waits after the last change before it reloads (editors write in steps). */
const WATCH_DEBOUNCE_MS = 300;

/**
 * Calls `changed` once the watched files settle. A file is watched through its folder: editors
 * and `kubectl` replace a file (a rename), which ends a watch on the file itself.
 */
function watchConfig(file: string, changed: () => void, log: RunningGateway['log']): () => void {
  const { files, dirs } = watchedPaths(file);
  let timer: NodeJS.Timeout | undefined;
  const touched = () => {
    clearTimeout(timer);
    timer = setTimeout(changed, WATCH_DEBOUNCE_MS);
  };
  const watchers: FSWatcher[] = [];
  const add = (path: string, recursive: boolean, filter?: string) => {
    try {
      const w = watch(path, { recursive, persistent: false }, (_event, name) => {
        if (filter === undefined || name === null || name === filter) touched();
      });
      w.on('error', (err) => log.warn(`--watch: ${path}: ${err.message}`));
      watchers.push(w);
    } catch (err) {
      log.warn(`--watch: cannot watch ${path}: ${err instanceof Error ? err.message : String(err)}`);
    }
  };
  for (const f of files) add(dirname(f), false, basename(f));
  for (const d of dirs) add(d, true);
  log.info(`--watch: reloading on changes to ${[...files, ...dirs].join(', ')}`);
  return () => {
    clearTimeout(timer);
    for (const w of watchers) w.close();
  };
}

export async function runCommand(p: RunCommandOptions): Promise<number> {
  const file = p.config;
  const loaded = await loadChecked(file);
  if (typeof loaded === 'number') return loaded;
  const port = p.port ?? loaded.port ?? 8080;
  /** What gw serves of a configuration read from the file: the example's self calls, -d. */
  const served = (config: ServiceConfig): ServiceConfig => {
    let service = config;
    if (p.example) service = selfTarget(service, port);
    if (p.debug) service = { ...service, debug_endpoint: true };
    return service;
  };
  const service = served(loaded);
  // Signals are caught before the workers start: a SIGTERM while the last worker is still
  // starting must drain and exit 0 too, not kill the process; a SIGHUP then reloads once started.
  let signalled = false;
  let hangup = false;
  let onSignal = () => {
    signalled = true;
  };
  let onHangup = () => {
    hangup = true;
  };
  const handler = () => onSignal();
  process.on('SIGTERM', handler);
  process.on('SIGINT', handler);
  process.on('SIGHUP', () => onHangup());
  let running: RunningGateway;
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
  const log = running.log;
  let stopping = false;
  const reload = async (why: string) => {
    if (stopping) return;
    log.info(`reload (${why}): reading ${file}`);
    const next = await reloadChecked(file);
    if (Array.isArray(next)) {
      for (const issue of next) log.error(`reload refused: ${issue.path}: ${issue.message}`);
      log.error(
        `reload refused: ${next.length} error(s) in ${file}; the running configuration keeps serving`,
      );
      return;
    }
    try {
      await running.reload(served(next));
    } catch (err) {
      log.error(
        `reload refused: ${err instanceof Error ? err.message : String(err)}; the running configuration keeps serving`,
      );
    }
  };
  const reloadOn = (why: string) => () => {
    reload(why).catch((err: Error) => log.error(`reload failed: ${err.message}`));
  };
  onHangup = reloadOn('SIGHUP');
  if (hangup) onHangup();
  const unwatch =
    p.watch === true ? watchConfig(file, reloadOn('a watched file changed'), log) : () => undefined;
  return new Promise<number>((resolve) => {
    onSignal = () => {
      if (stopping) return;
      stopping = true;
      unwatch();
      running.stop().then(
        () => resolve(0),
        () => resolve(1),
      );
    };
    if (signalled) onSignal();
  });
}
