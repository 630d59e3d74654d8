// A real redis-server on 127.0.0.1 for the Redis-backed tests (Debian's package; .ci/run installs it).
import { spawn, spawnSync } from 'node:child_process';
import { freePort, portOpen } from './gateway.mjs';

export const haveRedis = spawnSync('redis-server', ['--version']).status === 0;

/** Starts redis-server (on `port`, or a free one) without persistence; killed at exit at the latest. */
export async function startRedis(port) {
  port ??= await freePort();
  const child = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
    {
      stdio: 'ignore',
    },
  );
  const kill = () => child.kill('SIGKILL');
  process.once('exit', kill);
  for (let i = 0; i < 100 && !(await portOpen(port)); i++) await new Promise((r) => setTimeout(r, 50));
  return {
    port,
    address: `127.0.0.1:${port}`,
    stop: () =>
      new Promise((resolve) => {
        process.removeListener('exit', kill);
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}
