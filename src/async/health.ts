// The async agents as the config lists them (names, drivers) and their health reports, shared by
// every worker: the main thread makes the buffer (one float per agent: when it last reported
// itself alive, ms since the epoch), worker 0 writes it as its agents run (agents.ts), each
// worker's health endpoint reads it. Kept apart from agents.ts so the main thread loads none of
// the pipeline's code.

import type { BackendConfig, ServiceConfig } from '../types.js';

/** The agent drivers gw has, by namespace (each registered in src/extensions/registry.ts). */
export const AGENT_DRIVERS = ['async/amqp'];

export interface AgentConfig {
  name?: string;
  connection?: { max_retries?: number; backoff_strategy?: string; health_interval?: string };
  consumer?: { topic?: string; workers?: number; timeout?: string; max_rate?: number };
  encoding?: string;
  backend?: BackendConfig[];
  extra_config?: Record<string, unknown>;
}

export function agentsOf(service: ServiceConfig): AgentConfig[] {
  return Array.isArray(service.async_agent) ? (service.async_agent as AgentConfig[]) : [];
}

/** Agent names as lura gives them: the configured one, else `AsyncAgent-NN` by position. */
export function agentName(agent: AgentConfig, i: number): string {
  return typeof agent.name === 'string' && agent.name !== ''
    ? agent.name
    : `AsyncAgent-${String(i).padStart(2, '0')}`;
}

/** The key of the agents' health buffer in the shared objects the main thread prepares. */
export const AGENT_HEALTH_KEY = 'async_agent';

/** One float per agent: when it last reported itself alive (ms since the epoch; 0: never). */
export function prepareAgentHealth(service: ServiceConfig): SharedArrayBuffer | undefined {
  const n = agentsOf(service).length;
  return n > 0 ? new SharedArrayBuffer(8 * n) : undefined;
}

/** The health endpoint's `agents` object: each agent's last ping, as a time. */
export function agentReports(
  service: ServiceConfig,
  shared: Record<string, unknown>,
): () => Record<string, string> {
  const agents = agentsOf(service);
  const buffer = shared[AGENT_HEALTH_KEY];
  if (agents.length === 0 || !(buffer instanceof SharedArrayBuffer)) return () => ({});
  const pings = new Float64Array(buffer);
  const names = agents.map(agentName);
  return () => {
    const out: Record<string, string> = {};
    for (let i = 0; i < names.length; i++) if (pings[i] > 0) out[names[i]] = new Date(pings[i]).toISOString();
    return out;
  };
}
