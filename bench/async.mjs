// Messages per second through gw's event-driven backends, beside the broker's own rate measured in
// the same run, on the same machine (a line per driver). Bounded: N messages per line, 120 s at most.
//
//   node bench/async.mjs [--messages 5000] [--out bench/results]
//
// async/amqp  An async agent (consumer.workers 16, prefetch_count 64) draining N persistent
//             messages queued before it starts, each POSTed to a local HTTP backend and acked.
//             Beside it: RabbitMQ alone, N persistent messages published on a confirm channel,
//             then consumed and acked (prefetch 64) by one amqplib client.
// pubsub nats A `backend/pubsub/subscriber` endpoint drained by 32 HTTP clients after N messages
//             were published to its subject. Beside it: NATS alone, N messages from one client
//             to another's subscription.
// Needs rabbitmq-server and nats-server (a line is skipped, and says why, when one is missing).
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import amqp from 'amqplib';
import { connect as natsConnect } from 'nats';
import { Agent, request } from 'undici';
import { noNats, startNats } from '../test/helpers/nats.mjs';
import { noRabbitMQ, startRabbitMQ } from '../test/helpers/rabbitmq.mjs';
import { freePort, waitForHttp } from './lib/proc.mjs';

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = join(HERE, '..');
const args = process.argv.slice(2);
const option = (name, fallback) => {
  const at = args.indexOf(name);
  return at >= 0 ? args[at + 1] : fallback;
};
const N = Number(option('--messages', '5000'));
const OUT = resolve(option('--out', join(HERE, 'results')));
const LIMIT_MS = 120_000;
const BODY = Buffer.from(
  JSON.stringify({ id: 1, kind: 'order.created', items: [1, 2, 3], note: 'x'.repeat(64) }),
);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const rate = (n, ms) => Math.round((n / ms) * 1000);

async function until(fn, what) {
  const end = Date.now() + LIMIT_MS;
  while (!(await fn())) {
    if (Date.now() > end) throw new Error(`bench: timed out waiting for ${what}`);
    await sleep(20);
  }
}

/** `gw run` on a free port with `config`; resolves once it answers. */
async function startGw(config, env = {}) {
  const port = await freePort();
  const file = join(mkdtempSync(join(tmpdir(), 'gw-async-bench-')), 'krakend.json');
  writeFileSync(file, JSON.stringify({ listen_ip: '127.0.0.1', ...config, port }));
  const child = spawn(process.execPath, [join(ROOT, 'bin', 'gw.js'), 'run', '-c', file, '--workers', '1'], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  process.once('exit', () => child.kill('SIGKILL'));
  await waitForHttp(`http://127.0.0.1:${port}/__health`);
  return {
    url: `http://127.0.0.1:${port}`,
    stop: () =>
      new Promise((r) => {
        child.once('exit', r);
        child.kill('SIGTERM');
      }),
  };
}

async function amqpLine() {
  const rmq = await startRabbitMQ();
  try {
    const conn = await amqp.connect(rmq.url);
    const ch = await conn.createConfirmChannel();
    // The broker alone: publish (confirmed, persistent), then consume and ack.
    await ch.assertQueue('bench-raw', { durable: true });
    let t = performance.now();
    for (let i = 0; i < N; i++)
      if (!ch.sendToQueue('bench-raw', BODY, { persistent: true }))
        await new Promise((r) => ch.once('drain', r));
    await ch.waitForConfirms();
    const publish = rate(N, performance.now() - t);
    const c = await conn.createChannel();
    await c.prefetch(64);
    t = performance.now();
    let got = 0;
    await new Promise((done) =>
      c.consume('bench-raw', (m) => {
        c.ack(m);
        if (++got === N) done();
      }),
    );
    const consume = rate(N, performance.now() - t);

    // The agent: its queue filled first (declared as the agent declares it), then gw drains it.
    await ch.assertExchange('bench-ex', 'topic', { durable: true });
    await ch.assertQueue('bench-agent', { durable: true });
    await ch.bindQueue('bench-agent', 'bench-ex', '#');
    for (let i = 0; i < N; i++)
      if (!ch.publish('bench-ex', 'bench', BODY, { persistent: true }))
        await new Promise((r) => ch.once('drain', r));
    await ch.waitForConfirms();
    let first = 0;
    let last = 0;
    let count = 0;
    const backend = http.createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        if (count++ === 0) first = performance.now();
        last = performance.now();
        res.end('{}');
      });
    });
    await new Promise((r) => backend.listen(0, '127.0.0.1', r));
    const gw = await startGw({
      version: 3,
      async_agent: [
        {
          name: 'bench',
          consumer: { topic: '#', workers: 16, timeout: '5s' },
          backend: [
            { host: [`http://127.0.0.1:${backend.address().port}`], url_pattern: '/event', method: 'POST' },
          ],
          extra_config: {
            'async/amqp': {
              host: rmq.url,
              name: 'bench-agent',
              exchange: 'bench-ex',
              durable: true,
              prefetch_count: 64,
            },
          },
        },
      ],
    });
    await until(() => count >= N, `${N} messages through the agent (${count} so far)`);
    const through = rate(N - 1, last - first);
    await gw.stop();
    backend.close();
    await conn.close();
    return {
      driver: 'async/amqp',
      line: `async/amqp agent      ${through.toLocaleString('en')} msg/s through gw (16 workers) | RabbitMQ alone: publish ${publish.toLocaleString('en')} msg/s, consume+ack ${consume.toLocaleString('en')} msg/s`,
      through,
      brokerPublish: publish,
      brokerConsume: consume,
    };
  } finally {
    await rmq.stop();
  }
}

async function natsLine() {
  const nats = await startNats();
  try {
    const pub = await natsConnect({ servers: nats.url });
    const sub = await natsConnect({ servers: nats.url });
    // The broker alone: one client to another's subscription.
    let got = 0;
    let finish;
    const all = new Promise((r) => {
      finish = r;
    });
    sub.subscribe('bench.raw', {
      callback: () => {
        if (++got === N) finish();
      },
    });
    await sub.flush();
    let t = performance.now();
    for (let i = 0; i < N; i++) pub.publish('bench.raw', BODY);
    await pub.flush();
    await all;
    const alone = rate(N, performance.now() - t);

    const gw = await startGw(
      {
        version: 3,
        timeout: '2s',
        endpoints: [
          {
            endpoint: '/subscribe',
            backend: [
              {
                host: ['nats://'],
                url_pattern: '/ignored',
                disable_host_sanitize: true,
                extra_config: { 'backend/pubsub/subscriber': { subscription_url: 'bench.gw' } },
              },
            ],
          },
        ],
      },
      { NATS_SERVER_URL: nats.url },
    );
    await sleep(500); // the subscription is made in the background at start
    for (let i = 0; i < N; i++) pub.publish('bench.gw', BODY);
    await pub.flush();
    await sleep(200);
    const dispatcher = new Agent({ connections: 32, pipelining: 1 });
    let taken = 0;
    let failed = 0;
    let asked = 0;
    t = performance.now();
    await Promise.all(
      Array.from({ length: 32 }, async () => {
        while (asked < N) {
          asked++;
          const res = await request(`${gw.url}/subscribe`, { dispatcher });
          await res.body.text();
          if (res.statusCode === 200) taken++;
          else failed++;
        }
      }),
    );
    const through = rate(taken, performance.now() - t);
    await dispatcher.close();
    await gw.stop();
    await pub.close();
    await sub.close();
    return {
      driver: 'pubsub/nats',
      line: `pubsub nats subscriber ${through.toLocaleString('en')} msg/s through gw (32 HTTP clients, ${failed} failed) | NATS alone: ${alone.toLocaleString('en')} msg/s publish→subscribe`,
      through,
      failed,
      brokerAlone: alone,
    };
  } finally {
    await nats.stop();
  }
}

mkdirSync(OUT, { recursive: true });
const results = { messages: N, node: process.version, date: new Date().toISOString(), lines: [] };
for (const [skip, run] of [
  [noRabbitMQ, amqpLine],
  [noNats, natsLine],
]) {
  if (skip) {
    console.log(`skipped: ${skip}`);
    continue;
  }
  const r = await run();
  console.log(r.line);
  results.lines.push(r);
}
writeFileSync(join(OUT, 'async-latest.json'), `${JSON.stringify(results, null, 2)}\n`);
process.exit(0);
