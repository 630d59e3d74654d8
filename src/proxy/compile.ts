// What every part of an endpoint's compilation shares: the worker's runtime, the compile context
// a feature module is given, and the stacking of a layer's feature middlewares.

import type { Logger } from 'pino';
import { moduleFor, namespacesInRunOrder } from '../extensions/registry.js';
import type {
  BackendConfig,
  CompileContext,
  EndpointConfig,
  FeatureModule,
  ServiceConfig,
} from '../types.js';
import type { PoolRegistry } from './http-client.js';

/** What one worker's endpoints are compiled with. */
export interface PipelineRuntime {
  pools: PoolRegistry;
  logger: Logger;
  returnErrorMsg: boolean;
  /** Value of the X-Krakend header ("Version 0.1.0", or "Version undefined" when hidden). */
  versionHeader: string;
  /** User-Agent sent to backends. */
  userAgent: string;
  shared: Record<string, unknown>;
  workerId: number;
  /** Response manipulation: WASM by default, the TypeScript reference with --transform js. */
  transform: 'wasm' | 'js';
  onClose(fn: () => void | Promise<void>): void;
}

export function nsConfig(
  extra: Record<string, unknown> | undefined,
  ns: string,
): Record<string, unknown> | undefined {
  const v = extra?.[ns];
  return v !== null && typeof v === 'object' && !Array.isArray(v)
    ? (v as Record<string, unknown>)
    : undefined;
}

export function compileContext(
  rt: PipelineRuntime,
  service: ServiceConfig,
  path: string,
  endpoint?: EndpointConfig,
  backend?: BackendConfig,
): CompileContext {
  return {
    service,
    endpoint,
    backend,
    path,
    logger: rt.logger,
    shared: rt.shared,
    workerId: rt.workerId,
    onClose: rt.onClose,
  };
}

/**
 * Wraps `inner` with the middlewares a hook of each configured namespace returns, in the
 * registry's run order (bot detector before JWT before rate limits, as KrakenD chains them),
 * whatever order the config lists the namespaces in. `applied` receives them outermost first.
 */
export function applyFeatures<T>(
  extra: Record<string, unknown> | undefined,
  pick: (
    m: FeatureModule,
  ) => ((cfg: unknown, ctx: CompileContext) => ((next: T) => T) | undefined) | undefined,
  inner: T,
  ctxFor: (ns: string) => CompileContext,
  applied?: Array<(next: T) => T>,
): T {
  if (!extra) return inner;
  let stage = inner;
  for (const ns of namespacesInRunOrder(extra).reverse()) {
    const mod = moduleFor(ns)!;
    const hook = pick(mod);
    if (!hook) continue;
    const mw = hook.call(mod, extra[ns], ctxFor(ns));
    if (mw) {
      stage = mw(stage);
      applied?.unshift(mw);
    }
  }
  return stage;
}

/** The middlewares a hook of each configured namespace returns, outermost first (not applied). */
export function featureMiddlewares<T>(
  extra: Record<string, unknown> | undefined,
  pick: (m: FeatureModule) => ((cfg: unknown, ctx: CompileContext) => T | undefined) | undefined,
  ctxFor: (ns: string) => CompileContext,
): T[] {
  const out: T[] = [];
  if (!extra) return out;
  // Hooks are called innermost first, as applyFeatures calls them.
  for (const ns of namespacesInRunOrder(extra).reverse()) {
    const mod = moduleFor(ns)!;
    const hook = pick(mod);
    if (!hook) continue;
    const mw = hook.call(mod, extra[ns], ctxFor(ns));
    if (mw) out.unshift(mw);
  }
  return out;
}
