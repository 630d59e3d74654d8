// A real NATS server on 127.0.0.1 for the Pub/Sub tests (Debian's nats-server; .ci/run installs it).
import { spawn, spawnSync } from 'node:child_process';
import { freePort, portOpen } from './gateway.mjs';

export const haveNats = spawnSync('nats-server', ['--version']).status === 0;
export const noNats = haveNats
  ? false
  : 'nats-server is not installed (apt-get install nats-server: .ci/run does it on the host, not in the Debian 13 root)';

/** Starts nats-server on a free port; stopped at exit at the latest. */
export async function startNats() {
  const port = await freePort();
  const child = spawn('nats-server', ['-a', '127.0.0.1', '-p', String(port)], { stdio: 'ignore' });
  const kill = () => child.kill('SIGKILL');
  process.once('exit', kill);
  for (let i = 0; i < 200 && !(await portOpen(port)); i++) await new Promise((r) => setTimeout(r, 50));
  return {
    port,
    url: `nats://127.0.0.1:${port}`,
    stop: () =>
      new Promise((resolve) => {
        process.removeListener('exit', kill);
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}
