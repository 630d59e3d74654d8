// Worker supervision (src/server/run.ts WorkerSupervisor, src/server/worker.ts): an error nothing
// caught, injected into a serving worker under load (GW_FAULT_INJECTION=1, SIGUSR2), is logged;
// with several workers the failed one drains while a replacement takes its place on the port;
// in-process (one worker) serving goes on. The process never dies, and only requests in flight
// on the failed worker may fail.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Agent, request } from 'undici';
import { jsonBackend, startGateway } from './helpers/gateway.mjs';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

describe('a worker that fails under load', () => {
  let backend;
  let gw;

  before(async () => {
    backend = await jsonBackend({ '/item': { ok: true } });
    gw = await startGateway(
      {
        version: 3,
        endpoints: [{ endpoint: '/item', backend: [{ host: [backend.url], url_pattern: '/item' }] }],
      },
      { args: ['--workers', '2'], env: { GW_FAULT_INJECTION: '1' } },
    );
  });

  after(async () => {
    await gw?.stop();
    await backend?.close();
  });

  /** Requests 16 at a time until `stop()`; counts answers and failures. */
  function load() {
    const dispatcher = new Agent({ connections: 16 });
    const counts = { ok: 0, failed: 0, errors: [] };
    let running = true;
    const loop = async () => {
      while (running) {
        try {
          const res = await request(`${gw.url}/item`, { dispatcher });
          await res.body.text();
          if (res.statusCode === 200) counts.ok++;
          else {
            counts.failed++;
            counts.errors.push(String(res.statusCode));
          }
        } catch (err) {
          counts.failed++;
          counts.errors.push(err.code ?? err.message);
        }
      }
    };
    const loops = Array.from({ length: 16 }, loop);
    return {
      counts,
      stop: async () => {
        running = false;
        await Promise.all(loops);
        await dispatcher.close();
      },
    };
  }

  test('two failures, each under load: logged, replaced (or survived in-process), nothing else lost', async (t) => {
    const multi = !/1 worker, in-process/.test(gw.logs());
    const traffic = load();
    /** At least `n` lines holding `text` (counted: a backtracking regex over the growing access log is slow). */
    const times = (text, n) => ({ test: (logs) => logs.split(text).length - 1 >= n });
    try {
      for (let round = 1; round <= 2; round++) {
        await sleep(700);
        gw.child.kill('SIGUSR2');
        const replaced = multi ? 'a new worker 0 starts' : 'uncaught error (serving goes on)';
        // The failed worker's own line may reach the log after the main thread's: wait for both.
        await gw.waitForLog(times(replaced, round), 8000);
        const logs = await gw.waitForLog(times('fault injected: worker failure', round), 8000);
        assert.ok(times('fault injected: worker failure', round).test(logs), `fault ${round} logged`);
        assert.ok(times(replaced, round).test(logs), `"${replaced}" logged ${round} times`);
        // The replacement (or the same process) serves on.
        await sleep(multi ? 1500 : 300);
      }
    } catch (err) {
      // A failed round must not leave the load running: the file would never end.
      await traffic.stop();
      throw err;
    }
    const servedBefore = traffic.counts.ok;
    await sleep(500);
    await traffic.stop();
    t.diagnostic(
      `${multi ? 'worker threads' : 'in-process'}: ${traffic.counts.ok} answered, ${traffic.counts.failed} failed`,
    );
    assert.equal(gw.child.exitCode, null, 'the process is still running');
    assert.ok(traffic.counts.ok > servedBefore, 'requests are still answered after the failures');
    // Only what was in flight on the failed worker (16 connections at most, twice) may fail.
    assert.ok(
      traffic.counts.failed <= 32,
      `${traffic.counts.failed} failed: ${traffic.counts.errors.slice(0, 5)}`,
    );
    const after = await request(`${gw.url}/item`);
    assert.equal(after.statusCode, 200);
    assert.deepEqual(await after.body.json(), { ok: true });
  });
});
