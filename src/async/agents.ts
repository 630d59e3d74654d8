// Async agents (`async_agent`, "Event-Driven API Gateway: Async Agents"), as lura's
// async/asyncagent.go starts them: each agent is an endpoint without a route whose pipeline runs
// once per message its driver consumes. The pipeline is the proxy layer compiled by
// compileEndpoint, the same one an endpoint runs (Lua, CEL, schema, static, sequential, merge,
// manipulation, every backend namespace); the router layer (JWT, CORS, router rate limits) has no
// request to act on and is not built, as in lura (its agents come from the proxy factory).
//
// As lura sets them up (config.initAsyncAgents): the agent's timeout is `consumer.timeout` (else
// the service's, else 2 s) and is every backend's timeout too; backends default to GET; at least
// one worker; a health interval of at least 1 s. The message body is the backends' request body;
// the request has no headers and no parameters.
//
// Where agents run: in worker 0 only (the in-process instance with --workers 1), so a message is
// consumed once per gateway whatever the number of HTTP workers; `consumer.workers` says how many
// messages that worker processes at once. A replaced worker 0 starts them again. The health
// endpoint of every worker reads the agents' last pings from a SharedArrayBuffer the main thread
// makes (prepareAgentHealth).

import { moduleFor } from '../extensions/registry.js';
import type { PipelineRuntime } from '../proxy/compile.js';
import { compileEndpoint } from '../proxy/pipeline.js';
import { parseDurationMs } from '../proxy/util.js';
import type { AgentDriver, AgentRuntime, EndpointConfig, GwRequest, ServiceConfig } from '../types.js';
import { AGENT_DRIVERS, AGENT_HEALTH_KEY, type AgentConfig, agentName, agentsOf } from './health.js';

const DEFAULT_TIMEOUT_MS = 2000;

/** The endpoint lura builds for an agent: its backends, with the consumer's timeout on each. */
function agentEndpoint(agent: AgentConfig, name: string, timeout: string | undefined): EndpointConfig {
  return {
    endpoint: name,
    timeout,
    backend: (agent.backend ?? []).map((b) => ({ ...b, timeout: undefined })),
    extra_config: agent.extra_config,
  };
}

export interface RunningAgents {
  stop(deadlineMs: number): Promise<void>;
}

/** Compiles and starts every agent of `service` (worker 0 only: see above). */
export function startAgents(service: ServiceConfig, rt: PipelineRuntime): RunningAgents {
  const buffer = rt.shared[AGENT_HEALTH_KEY];
  const pings = buffer instanceof SharedArrayBuffer ? new Float64Array(buffer) : undefined;
  const drivers: AgentDriver[] = [];
  agentsOf(service).forEach((agent, i) => {
    const name = agentName(agent, i);
    const path = `$.async_agent[${i}]`;
    const driverNs = AGENT_DRIVERS.find((ns) => agent.extra_config?.[ns] !== undefined);
    const driver = driverNs !== undefined ? moduleFor(driverNs) : undefined;
    if (driverNs === undefined || driver?.agent === undefined) {
      rt.logger.error(`[SERVICE: AsyncAgent][${name}] no driver: set one of ${AGENT_DRIVERS.join(', ')}`);
      return;
    }
    const timeoutMs =
      parseDurationMs(agent.consumer?.timeout) ?? parseDurationMs(service.timeout) ?? DEFAULT_TIMEOUT_MS;
    const endpoint = agentEndpoint(agent, name, `${timeoutMs}ms`);
    const compiled = compileEndpoint(endpoint, i, service, rt, path);
    rt.logger.debug(`[SERVICE: AsyncAgent][${name}] pipeline: ${compiled.describe}`);
    const proxy = compiled.proxy;
    if (proxy === undefined) {
      rt.logger.error(
        `[SERVICE: AsyncAgent][${name}] an agent has no proxy layer to run (a websocket endpoint?)`,
      );
      return;
    }
    const healthMs = parseDurationMs(agent.connection?.health_interval) ?? 0;
    const runtime: AgentRuntime = {
      name,
      topic: agent.consumer?.topic ?? '',
      workers: Math.max(1, Math.floor(agent.consumer?.workers ?? 1)),
      maxRate: typeof agent.consumer?.max_rate === 'number' ? agent.consumer.max_rate : 0,
      maxRetries: agent.connection?.max_retries ?? 0,
      backoffStrategy: agent.connection?.backoff_strategy,
      healthIntervalMs: Math.max(1000, healthMs),
      process: (body) =>
        new Promise<boolean>((resolve) => {
          const req: GwRequest = {
            method: 'GET',
            path: name,
            query: '',
            headers: {},
            params: {},
            body,
            clientIp: '',
          };
          try {
            // As lura's agent: the message is processed when the pipeline returned no error.
            proxy.run(req, { done: (pr) => resolve(pr.error === undefined) });
          } catch (err) {
            rt.logger.error(
              `[SERVICE: AsyncAgent][${name}] ${err instanceof Error ? err.message : String(err)}`,
            );
            resolve(false);
          }
        }),
      ping: () => {
        if (pings !== undefined) pings[i] = Date.now();
      },
    };
    drivers.push(
      driver.agent(agent.extra_config![driverNs], runtime, {
        service,
        endpoint,
        path: `${path}.extra_config["${driverNs}"]`,
        logger: rt.logger,
        shared: rt.shared,
        workerId: rt.workerId,
        onClose: rt.onClose,
      }),
    );
  });
  return {
    stop: async (deadlineMs) => {
      await Promise.all(drivers.map((d) => d.stop(deadlineMs)));
    },
  };
}
