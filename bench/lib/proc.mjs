// Child processes of the bench (gw, nginx, backends) and their CPU time.
import { execFileSync, spawn } from 'node:child_process';
import { closeSync, constants, existsSync, openSync, readdirSync, readFileSync } from 'node:fs';
import net from 'node:net';

let clockTicks = 100;
try {
  clockTicks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
} catch {
  // Linux's USER_HZ is 100 nearly everywhere
}

/** utime + stime of one process (all its threads), in seconds; 0 when it is gone. */
function processCpuSec(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // the command name may hold spaces and parentheses: fields start after the last ')'
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / clockTicks;
  } catch {
    return 0;
  }
}

function childrenOf(pid) {
  const out = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === pid) out.push(Number(entry));
    } catch {
      // the process ended while we listed /proc
    }
  }
  return out;
}

export const cpuAccountingAvailable = existsSync('/proc/self/stat');

/**
 * CPU seconds used so far by a process and its descendants (gw: one process with worker
 * threads; nginx: a master and its worker processes).
 */
export function treeCpuSec(pid) {
  if (!cpuAccountingAvailable || !pid) return 0;
  let total = processCpuSec(pid);
  for (const child of childrenOf(pid)) total += treeCpuSec(child);
  return total;
}

/**
 * A stdout for a child as `kind` says: 'null' (/dev/null), 'file' (a file in `dir`) or 'pipe' (a
 * FIFO that `cat` reads and throws away, as a container runtime or a log shipper reads one).
 * `fd` is passed to startProcess and closed after it; `stop()` ends the reader.
 */
export function childStdout(kind, dir, name) {
  if (kind === 'null') return { fd: 'ignore', done() {}, stop() {} };
  const path = `${dir}/${name}.${kind === 'pipe' ? 'fifo' : 'log'}`;
  if (kind === 'file') {
    const fd = openSync(path, 'w');
    return { fd, done: () => closeSync(fd), stop() {} };
  }
  execFileSync('mkfifo', [path]);
  const reader = spawn('cat', [path], { stdio: ['ignore', 'ignore', 'ignore'] });
  const fd = openSync(path, constants.O_WRONLY);
  return { fd, done: () => closeSync(fd), stop: () => reader.kill() };
}

/** Spawns a long-running child; its stderr/stdout go to `logFile` paths or are ignored. */
export function startProcess(cmd, args, { stdout = 'ignore', stderr = 'pipe', cwd, env } = {}) {
  const child = spawn(cmd, args, { stdio: ['ignore', stdout, stderr], cwd, env: env ?? process.env });
  let errText = '';
  child.stderr?.on('data', (d) => {
    errText = (errText + d.toString()).slice(-4000);
  });
  const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  return {
    child,
    pid: child.pid,
    exited,
    stderr: () => errText,
    async stop(signal = 'SIGTERM', graceMs = 5000) {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill(signal);
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** Runs a process to its end and returns its stdout (rejects with its stderr on failure). */
export function runToEnd(cmd, args, { env } = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], env: env ?? process.env });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => {
      out += d;
    });
    child.stderr.on('data', (d) => {
      err += d;
    });
    child.once('exit', (code) =>
      code === 0 ? resolve({ stdout: out, pid: child.pid }) : reject(new Error(err || `exit ${code}`)),
    );
    child.once('error', reject);
  });
}

/** A free TCP port on 127.0.0.1. */
export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

/** Resolves once `url` answers 2xx (or rejects after `timeoutMs`, naming `what`). */
export async function waitForHttp(url, what, timeoutMs = 15000, proc) {
  const deadline = Date.now() + timeoutMs;
  let lastError = '';
  while (Date.now() < deadline) {
    if (proc && (proc.child.exitCode !== null || proc.child.signalCode !== null))
      throw new Error(`${what} exited before answering: ${proc.stderr().trim()}`);
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(1000) });
      await res.arrayBuffer();
      if (res.ok) return;
      lastError = `status ${res.status}`;
    } catch (err) {
      lastError = err?.cause?.code ?? err?.message ?? String(err);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(
    `${what} did not answer ${url} within ${timeoutMs} ms (${lastError})${proc ? `: ${proc.stderr().trim()}` : ''}`,
  );
}

/** The first executable named `name` on PATH or in the sbin folders (nginx lives in /usr/sbin). */
export function findExecutable(name) {
  const dirs = [...(process.env.PATH ?? '').split(':'), '/usr/sbin', '/usr/local/sbin', '/sbin'];
  for (const dir of dirs) {
    if (!dir) continue;
    const candidate = `${dir}/${name}`;
    if (existsSync(candidate)) return candidate;
  }
  return undefined;
}
