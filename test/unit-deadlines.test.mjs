// The deadline list behind backend timeouts: calls expire in deadline order, a finished call
// never expires, and out-of-order inserts (sequential backends) still expire on time.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DeadlineList } from '../dist/proxy/deadlines.js';

function entry(name, log) {
  return {
    deadlineAt: 0,
    prevDue: null,
    nextDue: null,
    due: false,
    expire() {
      log.push({ name, at: performance.now() });
    },
  };
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

test('entries expire in deadline order, removed ones never', async () => {
  const list = new DeadlineList();
  const log = [];
  const started = performance.now();
  const a = entry('a', log);
  const b = entry('b', log);
  const c = entry('c', log);
  const d = entry('d', log);
  list.add(a, 60);
  list.add(b, 20); // earlier than the tail: walks back, becomes the head, re-arms the timer
  list.add(c, 40);
  list.add(d, 30);
  assert.equal(list.size, 4);
  list.remove(c);
  list.remove(c); // twice is harmless
  assert.equal(list.size, 3);
  await sleep(120);
  assert.deepEqual(
    log.map((e) => e.name),
    ['b', 'd', 'a'],
  );
  for (const [e, ms] of [
    [log[0], 20],
    [log[1], 30],
    [log[2], 60],
  ])
    assert.ok(e.at - started >= ms - 1, `${e.name} expired at ${e.at - started} ms, before ${ms} ms`);
  assert.equal(list.size, 0);
});

test('an entry removed from the head lets the next one expire at its own time', async () => {
  const list = new DeadlineList();
  const log = [];
  const started = performance.now();
  const a = entry('a', log);
  const b = entry('b', log);
  list.add(a, 15);
  list.add(b, 45);
  list.remove(a);
  // Whether a timer fired early shows in the expiry times below (a sleep may overrun on a busy
  // host, so "nothing yet after 25 ms" is not asserted).
  await sleep(75);
  assert.deepEqual(
    log.map((e) => e.name),
    ['b'],
  );
  assert.ok(log[0].at - started >= 44);
});

test('a pending deadline does not keep the process alive (its timer is unref-ed)', async () => {
  const { spawnSync } = await import('node:child_process');
  const url = new URL('../dist/proxy/deadlines.js', import.meta.url).href;
  const script = `import { DeadlineList } from '${url}';
const l = new DeadlineList();
l.add({ deadlineAt: 0, prevDue: null, nextDue: null, due: false, expire() { process.exitCode = 3; } }, 60000);`;
  const started = Date.now();
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  assert.ok(Date.now() - started < 30000);
});
