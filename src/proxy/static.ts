// proxy.static: a final decorator injecting fixed data by strategy (Static Proxy page).
import type { ProxyMiddleware, ProxyResponse } from '../types.js';

export const staticStrategies = ['always', 'success', 'complete', 'errored', 'incomplete'] as const;
type Strategy = (typeof staticStrategies)[number];

const matchers: Record<Strategy, (r: ProxyResponse) => boolean> = {
  always: () => true,
  success: (r) => r.error === undefined,
  complete: (r) => r.error === undefined && r.data !== null && r.isComplete,
  errored: (r) => r.error !== undefined,
  incomplete: (r) => r.data === null || !r.isComplete,
};

export function compileStaticProxy(cfg: unknown): ProxyMiddleware | undefined {
  if (cfg === null || typeof cfg !== 'object') return undefined;
  const { strategy, data } = cfg as { strategy?: string; data?: unknown };
  if (data === null || typeof data !== 'object' || Array.isArray(data)) return undefined;
  const match = matchers[(strategy ?? 'always') as Strategy];
  if (!match) return undefined;
  const entries = Object.entries(data as Record<string, unknown>);
  return (next) => async (req) => {
    const res = await next(req);
    if (!match(res) || res.raw !== undefined) return res;
    const merged: Record<string, unknown> = res.data ?? {};
    // Deep copies: the same static data must not be shared (and mutated) across requests.
    for (const [k, v] of entries) merged[k] = structuredClone(v);
    return { ...res, data: merged };
  };
}
