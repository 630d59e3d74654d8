// A real RabbitMQ broker on 127.0.0.1 for the AMQP and Pub/Sub tests (Debian's rabbitmq-server;
// .ci/run installs it). Each broker is its own Erlang node: its own AMQP, distribution and epmd
// ports and its own data and log directories under a temp dir, so tests (and other gw checkouts on
// the machine) never share one. `restart()` stops the node and starts it again on the same data
// directory: durable queues and persistent messages survive, as in production.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, portOpen } from './gateway.mjs';

const SERVER = '/usr/lib/rabbitmq/bin/rabbitmq-server';
export const haveRabbitMQ = existsSync(SERVER) && spawnSync('erl', ['-version']).status === 0;
export const noRabbitMQ = haveRabbitMQ
  ? false
  : 'rabbitmq-server is not installed (apt-get install rabbitmq-server: .ci/run does it on the host, not in the Debian 13 root)';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Starts a broker (guest/guest on a free port); stopped at exit at the latest. */
export async function startRabbitMQ({ startTimeoutMs = 60000 } = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'gw-rabbitmq-'));
  const [port, distPort, epmdPort] = [await freePort(), await freePort(), await freePort()];
  const name = `gwtest${port}@localhost`;
  writeFileSync(join(dir, 'enabled_plugins'), '[].\n');
  mkdirSync(join(dir, 'log'));
  const env = {
    ...process.env,
    HOME: dir, // the Erlang cookie lives here
    RABBITMQ_NODENAME: name,
    RABBITMQ_NODE_IP_ADDRESS: '127.0.0.1',
    RABBITMQ_NODE_PORT: String(port),
    RABBITMQ_DIST_PORT: String(distPort),
    ERL_EPMD_PORT: String(epmdPort),
    ERL_EPMD_ADDRESS: '127.0.0.1',
    RABBITMQ_MNESIA_BASE: join(dir, 'mnesia'),
    RABBITMQ_LOG_BASE: join(dir, 'log'),
    RABBITMQ_LOGS: join(dir, 'log', 'rabbit.log'),
    RABBITMQ_ENABLED_PLUGINS_FILE: join(dir, 'enabled_plugins'),
    RABBITMQ_PLUGINS_EXPAND_DIR: join(dir, 'plugins-expand'),
    RABBITMQ_FEATURE_FLAGS_FILE: join(dir, 'feature_flags'),
    RABBITMQ_PID_FILE: join(dir, 'rabbit.pid'),
    RABBITMQ_CONFIG_FILE: join(dir, 'rabbitmq'),
    RABBITMQ_ADVANCED_CONFIG_FILE: join(dir, 'advanced.config'),
    RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS: '-kernel inet_dist_use_interface {127,0,0,1}',
  };
  let child = null;
  let exited = null;
  let out = '';
  const kill = () => {
    child?.kill('SIGKILL');
    spawnSync('epmd', ['-kill'], { env, stdio: 'ignore' });
  };
  process.once('exit', kill);

  async function up() {
    exited = null;
    out = '';
    // detached: the broker's own process group, so a kill reaches the shell script and beam alike.
    child = spawn(SERVER, [], { env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    child.unref();
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    child.stdout.unref?.();
    child.stderr.unref?.();
    child.on('exit', (code, signal) => (exited = { code, signal }));
    const deadline = Date.now() + startTimeoutMs;
    while (!(await portOpen(port))) {
      if (exited) throw new Error(`rabbitmq-server exited (${JSON.stringify(exited)}):\n${out}`);
      if (Date.now() > deadline) {
        kill();
        throw new Error(`rabbitmq-server did not start on ${port}:\n${out}`);
      }
      await sleep(100);
    }
  }

  /** Stops the node (SIGTERM to its process group: the broker closes connections and exits). */
  async function down(signal = 'SIGTERM') {
    if (child === null || exited) return;
    const done = new Promise((r) => child.once('exit', r));
    try {
      process.kill(-child.pid, signal);
    } catch {
      child.kill(signal);
    }
    const timer = setTimeout(() => {
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {}
    }, 15000);
    await done;
    clearTimeout(timer);
    // beam may outlive the script for a moment: wait until the port is released.
    for (let i = 0; i < 100 && (await portOpen(port)); i++) await sleep(100);
  }

  await up();
  return {
    port,
    url: `amqp://guest:guest@127.0.0.1:${port}`,
    dir,
    logs: () => out,
    /** Stops the broker and starts it again on the same data (durable things survive). */
    async restart({ downMs = 0, signal = 'SIGTERM' } = {}) {
      await down(signal);
      if (downMs > 0) await sleep(downMs);
      await up();
    },
    async stop() {
      process.removeListener('exit', kill);
      await down();
      spawnSync('epmd', ['-kill'], { env, stdio: 'ignore' });
    },
  };
}
