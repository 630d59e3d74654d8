// async_agent with the async/amqp driver against a real RabbitMQ, through real `gw run`: the docs'
// agent config, the pipeline per message, ack/nack, workers, max_rate, health, and the faults (a
// broker restart mid-stream, SIGTERM with messages in flight, a backend that keeps failing).
// Behaviour from lura async/asyncagent.go (AgentStarter.Start), config/config.go
// (initAsyncAgentDefaults), router/gin/engine.go (healthEndpoint) and krakend-amqp
// async/subscriber.go (New, newProcessor, initConsumer) and async/agent.go (StartAgent).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import amqp from 'amqplib';
import { get, runGw, sleep, startBackend, startGateway, until, writeConfig } from './helpers/gateway.mjs';
import { noRabbitMQ, startRabbitMQ } from './helpers/rabbitmq.mjs';

/** The docs' agent ("Event-Driven API Gateway: Async Agents"), on `queue` and `exchange`. */
function docsAgent(
  rmq,
  backendUrl,
  { name = 'cool-agent', queue, exchange, consumer = {}, amqpCfg = {}, backend } = {},
) {
  return {
    name,
    connection: { max_retries: 10, backoff_strategy: 'exponential-jitter', health_interval: '10s' },
    consumer: { topic: '*', workers: 1, timeout: '1s', ...consumer },
    backend: backend ?? [{ host: [backendUrl], url_pattern: '/__debug/', method: 'POST' }],
    extra_config: {
      'async/amqp': {
        host: `${rmq.url}/`,
        name: queue,
        exchange,
        durable: true,
        delete: false,
        exclusive: false,
        no_wait: true,
        prefetch_count: 5,
        auto_ack: false,
        no_local: true,
        ...amqpCfg,
      },
    },
  };
}

/** A publisher of persistent messages on a confirm channel. */
async function publisher(rmq, exchange) {
  const conn = await amqp.connect(rmq.url);
  conn.on('error', () => {});
  const ch = await conn.createConfirmChannel();
  ch.on('error', () => {});
  await ch.assertExchange(exchange, 'topic', { durable: true });
  return {
    async send(bodies, key = 'event') {
      for (const b of bodies)
        ch.publish(exchange, key, Buffer.from(typeof b === 'string' ? b : JSON.stringify(b)), {
          persistent: true,
        });
      await ch.waitForConfirms();
    },
    close: () => conn.close().catch(() => {}),
  };
}

async function queueDepth(rmq, queue) {
  const conn = await amqp.connect(rmq.url);
  try {
    const ch = await conn.createChannel();
    const q = await ch.checkQueue(queue);
    return q.messageCount;
  } finally {
    await conn.close();
  }
}

describe('async agents: async/amqp', { skip: noRabbitMQ, timeout: 400000 }, () => {
  let rmq;
  before(async () => {
    rmq = await startRabbitMQ();
  });
  after(async () => {
    await rmq?.stop();
  });

  test('subscriber.go: the docs agent consumes each message once, sends it as the backend body, acks it; /__health lists the agent', async () => {
    const backend = await startBackend((_req, res) => res.end('{"ok":true}'));
    const gw = await startGateway(
      { version: 3, async_agent: [docsAgent(rmq, backend.url, { queue: 'docs-q', exchange: 'docs-ex' })] },
      { args: ['--workers', '2'] },
    );
    const pub = await publisher(rmq, 'docs-ex');
    try {
      await gw.waitForLog(/connected/, 20000);
      const bodies = Array.from({ length: 20 }, (_, i) => ({ id: i }));
      await pub.send(bodies);
      await until(() => backend.requests.length >= 20, 20000, '20 messages');
      await sleep(300);
      assert.equal(backend.requests.length, 20, 'each message once, with two HTTP workers');
      assert.deepEqual(
        backend.requests.map((r) => JSON.parse(r.body.toString())).sort((a, b) => a.id - b.id),
        bodies,
      );
      assert.equal(backend.requests[0].url, '/__debug/');
      assert.equal(await queueDepth(rmq, 'docs-q'), 0, 'acked');
      // Both workers' health endpoints see the agent's last ping.
      for (let i = 0; i < 4; i++) {
        const h = await get(`${gw.url}/__health`);
        assert.equal(h.status, 200);
        assert.equal(h.json.status, 'ok');
        assert.ok(h.json.agents['cool-agent'], `agents: ${h.text}`);
        assert.ok(Date.now() - Date.parse(h.json.agents['cool-agent']) < 30000);
      }
    } finally {
      await pub.close();
      await gw.stop();
      await backend.close();
    }
  });

  test('the agent runs the endpoint pipeline: sequential backends with {resp0_...}, manipulation, static data, Lua', async () => {
    const backend = await startBackend((req, res, body) => {
      res.setHeader('content-type', 'application/json');
      if (req.url === '/first') res.end(JSON.stringify({ user: JSON.parse(body.toString()).user, drop: 1 }));
      else res.end(JSON.stringify({ seen: req.url }));
    });
    const agent = docsAgent(rmq, backend.url, {
      name: 'pipeline-agent',
      queue: 'pipe-q',
      exchange: 'pipe-ex',
      backend: [
        { host: [backend.url], url_pattern: '/first', method: 'POST', deny: ['drop'] },
        {
          host: [backend.url],
          url_pattern: '/second/{resp0_user}',
          extra_config: {
            'modifier/lua-backend': {
              pre: "local r = request.load(); r:headers('X-Lua', 'yes')",
              live: false,
            },
          },
        },
      ],
    });
    agent.extra_config.proxy = { sequential: true, static: { strategy: 'always', data: { s: 1 } } };
    const gw = await startGateway({ version: 3, async_agent: [agent] });
    const pub = await publisher(rmq, 'pipe-ex');
    try {
      await gw.waitForLog(/connected/, 20000);
      await pub.send([{ user: 'ana' }]);
      await until(() => backend.requests.length >= 2, 20000, 'both backends');
      assert.equal(backend.requests[0].url, '/first');
      assert.equal(backend.requests[1].url, '/second/ana');
      assert.equal(backend.requests[1].headers['x-lua'], 'yes');
      await until(async () => (await queueDepth(rmq, 'pipe-q')) === 0, 5000, 'the ack');
    } finally {
      await pub.close();
      await gw.stop();
      await backend.close();
    }
  });

  test('subscriber.go: a failing pipeline nacks for redelivery: processed once the backend recovers', async () => {
    let failures = 3;
    const backend = await startBackend((req, res) => {
      if (req.url === '/flaky' && failures-- > 0) {
        res.statusCode = 500;
        return res.end('down');
      }
      res.end('{}');
    });
    const gw = await startGateway({
      version: 3,
      async_agent: [
        docsAgent(rmq, backend.url, {
          name: 'requeue',
          queue: 'flaky-q',
          exchange: 'flaky-ex',
          backend: [{ host: [backend.url], url_pattern: '/flaky', method: 'POST' }],
        }),
      ],
    });
    const flaky = await publisher(rmq, 'flaky-ex');
    try {
      await gw.waitForLog(/connected/, 20000);
      await flaky.send([{ n: 1 }]);
      await until(
        () => backend.requests.filter((r) => r.url === '/flaky').length >= 4,
        20000,
        'the redeliveries',
      );
      await until(async () => (await queueDepth(rmq, 'flaky-q')) === 0, 5000, 'the ack');
      assert.equal(
        backend.requests.filter((r) => r.url === '/flaky').length,
        4,
        '3 failures, then processed',
      );
    } finally {
      await flaky.close();
      await gw.stop();
      await backend.close();
    }
  });

  test('nack_discard: a message whose backend fails is dropped, not redelivered', async () => {
    const backend = await startBackend((_req, res) => {
      res.statusCode = 503;
      res.end('no');
    });
    const gw = await startGateway({
      version: 3,
      async_agent: [
        docsAgent(rmq, backend.url, {
          name: 'discard',
          queue: 'discard-q2',
          exchange: 'discard-ex2',
          amqpCfg: { nack_discard: true },
        }),
      ],
    });
    const pub = await publisher(rmq, 'discard-ex2');
    try {
      await gw.waitForLog(/connected/, 20000);
      await pub.send([{ n: 1 }, { n: 2 }]);
      await until(() => backend.requests.length >= 2, 20000, 'both messages');
      await sleep(1500);
      assert.equal(backend.requests.length, 2, 'each tried once');
      assert.equal(await queueDepth(rmq, 'discard-q2'), 0);
    } finally {
      await pub.close();
      await gw.stop();
      await backend.close();
    }
  });

  test('a backend that keeps failing does not spin: redeliveries are held back (100 ms doubling, up to 5 s)', async () => {
    const backend = await startBackend((_req, res) => {
      res.statusCode = 500;
      res.end('down');
    });
    const gw = await startGateway({
      version: 3,
      async_agent: [docsAgent(rmq, backend.url, { name: 'spin', queue: 'spin-q', exchange: 'spin-ex' })],
    });
    const pub = await publisher(rmq, 'spin-ex');
    try {
      await gw.waitForLog(/connected/, 20000);
      await pub.send([{ n: 1 }]);
      await until(() => backend.requests.length >= 1, 20000, 'the first try');
      await sleep(4000);
      // Holds of 0.1+0.2+0.4+0.8+1.6 s fill the 4 s after the first try: at most ~6 tries (KrakenD
      // would have made thousands).
      const tries = backend.requests.length;
      assert.ok(tries >= 3 && tries <= 8, `${tries} tries in ~4 s`);
      assert.equal(await queueDepth(rmq, 'spin-q'), 0, 'held unacked, not lost: not ready in the queue');
    } finally {
      await pub.close();
      await gw.stop();
      await backend.close();
    }
    // Given back to the queue when gw stopped.
    assert.equal(await queueDepth(rmq, 'spin-q'), 1);
  });

  test('consumer.workers bounds the messages in flight; consumer.max_rate the messages per second', async () => {
    let inFlight = 0;
    let most = 0;
    const backend = await startBackend(async (req, res) => {
      inFlight++;
      most = Math.max(most, inFlight);
      await sleep(req.url === '/slow' ? 300 : 0);
      inFlight--;
      res.end('{}');
    });
    const gw = await startGateway({
      version: 3,
      async_agent: [
        docsAgent(rmq, backend.url, {
          name: 'workers',
          queue: 'workers-q',
          exchange: 'workers-ex',
          consumer: { workers: 3, timeout: '5s' },
          backend: [{ host: [backend.url], url_pattern: '/slow', method: 'POST' }],
        }),
        docsAgent(rmq, backend.url, {
          name: 'rate',
          queue: 'rate-q',
          exchange: 'rate-ex',
          consumer: { workers: 4, max_rate: 4 },
          backend: [{ host: [backend.url], url_pattern: '/fast', method: 'POST' }],
        }),
      ],
    });
    const w = await publisher(rmq, 'workers-ex');
    const r = await publisher(rmq, 'rate-ex');
    try {
      await until(() => (gw.logs().match(/connected/g) ?? []).length >= 2, 20000, 'both agents');
      await w.send(Array.from({ length: 9 }, (_, i) => ({ i })));
      await until(
        () => backend.requests.filter((q) => q.url === '/slow').length >= 9,
        30000,
        'the slow ones',
      );
      assert.equal(most, 3, 'three at once, never more');
      const started = Date.now();
      await r.send(Array.from({ length: 12 }, (_, i) => ({ i })));
      await until(
        () => backend.requests.filter((q) => q.url === '/fast').length >= 12,
        30000,
        'the rated ones',
      );
      // A burst of 4, then 4 a second: the last 8 take at least ~2 s.
      assert.ok(Date.now() - started >= 1800, `12 messages in ${Date.now() - started} ms at max_rate 4`);
    } finally {
      await w.close();
      await r.close();
      await gw.stop();
      await backend.close();
    }
  });

  test('fault: a broker restart mid-stream loses no message (each processed, or redelivered and processed)', async () => {
    const seen = new Map();
    const backend = await startBackend(async (_req, res, body) => {
      const { id } = JSON.parse(body.toString());
      seen.set(id, (seen.get(id) ?? 0) + 1);
      await sleep(2);
      res.end('{}');
    });
    const gw = await startGateway({
      version: 3,
      async_agent: [
        docsAgent(rmq, backend.url, {
          name: 'fault',
          queue: 'fault-q',
          exchange: 'fault-ex',
          consumer: { workers: 4, timeout: '2s' },
          // 1 s, 2 s, 4 s… as the docs' agent: a restart takes a few seconds.
          amqpCfg: { prefetch_count: 20 },
        }),
      ],
    });
    const total = 2000;
    try {
      await gw.waitForLog(/connected/, 20000);
      let pub = await publisher(rmq, 'fault-ex');
      await pub.send(Array.from({ length: total / 2 }, (_, i) => ({ id: i })));
      await until(() => seen.size >= 100, 20000, 'the stream to start');
      await pub.close();
      await rmq.restart();
      pub = await publisher(rmq, 'fault-ex');
      await pub.send(Array.from({ length: total / 2 }, (_, i) => ({ id: total / 2 + i })));
      await pub.close();
      await until(() => seen.size >= total, 120000, `all ${total} messages (seen ${seen.size})`);
      const redelivered = [...seen.values()].filter((n) => n > 1).length;
      const lost = total - seen.size;
      console.log(
        `broker restart: ${total} published, ${seen.size} processed, ${lost} lost, ${redelivered} processed twice (redelivered)`,
      );
      assert.equal(lost, 0);
      await until(async () => (await queueDepth(rmq, 'fault-q')) === 0, 10000, 'every ack');
    } finally {
      await gw.stop();
      await backend.close();
    }
  });

  test('fault: SIGTERM drains the messages in flight (processed and acked) and gives back those not started', async () => {
    const done = new Set();
    let started = 0;
    const backend = await startBackend(async (_req, res, body) => {
      started++;
      await sleep(800);
      done.add(JSON.parse(body.toString()).id);
      res.end('{}');
    });
    const gw = await startGateway({
      version: 3,
      async_agent: [
        docsAgent(rmq, backend.url, {
          name: 'drain',
          queue: 'drain-q',
          exchange: 'drain-ex',
          consumer: { workers: 3, timeout: '5s' },
          amqpCfg: { prefetch_count: 10 },
        }),
      ],
    });
    const pub = await publisher(rmq, 'drain-ex');
    try {
      await gw.waitForLog(/connected/, 20000);
      await pub.send(Array.from({ length: 10 }, (_, id) => ({ id })));
      await until(() => started >= 3, 20000, 'three in flight');
      const exit = await gw.stop();
      assert.equal(exit.code, 0);
      // Those in flight finished before gw exited; the rest wait in the queue.
      assert.ok(done.size >= 3, `${done.size} finished`);
      const left = await queueDepth(rmq, 'drain-q');
      assert.equal(left + done.size, 10, `${done.size} processed + ${left} left in the queue:\n${gw.logs()}`);
    } finally {
      await pub.close();
      await gw.stop();
      await backend.close();
    }
  });
});

describe('gw check: async agents', () => {
  const check = async (cfg) => {
    const r = await runGw(['check', '-c', writeConfig(cfg)]);
    return { code: r.code, out: r.stdout + r.stderr };
  };
  const base = (extra, more = {}) => ({
    version: 3,
    async_agent: [
      {
        name: 'a',
        consumer: { topic: '*', workers: 1, timeout: '150ms', max_rate: 0.5 },
        connection: { max_retries: 10, backoff_strategy: 'exponential-jitter', health_interval: '10s' },
        backend: [{ host: ['http://127.0.0.1:8080'], url_pattern: '/__debug/' }],
        extra_config: extra,
        ...more,
      },
    ],
  });
  const driver = {
    host: 'amqp://guest:guest@localhost:5672/',
    name: 'krakend',
    exchange: 'foo',
    durable: true,
    delete: false,
    exclusive: false,
    no_wait: true,
    prefetch_count: 5,
    auto_ack: false,
    no_local: true,
  };

  test('the docs agent is valid', async () => {
    const r = await check(base({ 'async/amqp': driver }));
    assert.equal(r.code, 0, r.out);
  });

  test('an agent without a driver, with one gw does not have, or with bad settings is refused with its path', async () => {
    let r = await check(base({}));
    assert.equal(r.code, 1);
    assert.match(r.out, /\$\.async_agent\[0\]\.extra_config: no driver.*async\/amqp/);
    r = await check(base({ 'async/kafka': {} }));
    assert.equal(r.code, 1);
    assert.match(r.out, /async\/kafka.*not supported by gw/);
    r = await check(base({ 'async/amqp': { ...driver, host: 'localhost' } }));
    assert.equal(r.code, 1);
    assert.match(r.out, /\$\.async_agent\[0\]\.extra_config\["async\/amqp"\]\.host/);
    r = await check(base({ 'async/amqp': driver }, { consumer: { timeout: 'soon', workers: -1 } }));
    assert.equal(r.code, 1);
    assert.match(r.out, /\$\.async_agent\[0\]\.consumer\.timeout: invalid duration/);
    assert.match(r.out, /\$\.async_agent\[0\]\.consumer\.workers/);
    r = await check(base({ 'async/amqp': driver }, { backend: [] }));
    assert.equal(r.code, 1);
    assert.match(r.out, /\$\.async_agent\[0\]\.backend: an agent needs at least one backend/);
  });

  test("the driver's queue settings are krakend-amqp's queueCfg, as the consumer backend's: a wrong one gets the same answer in both", async () => {
    const wrong = {
      name: 1,
      exchange: true,
      durable: 'yes',
      delete: 0,
      exclusive: [],
      no_wait: {},
      no_local: 'no',
      prefetch_count: -1,
      prefetch_size: 'big',
      auto_ack: 1,
      nack_discard: 'x',
    };
    const cfg = base({ 'async/amqp': { ...driver, ...wrong } });
    cfg.endpoints = [
      {
        endpoint: '/c',
        backend: [
          {
            host: ['amqp://guest:guest@localhost:5672'],
            disable_host_sanitize: true,
            extra_config: { 'backend/amqp/consumer': { routing_key: ['#'], ...wrong } },
          },
        ],
      },
    ];
    const r = await check(cfg);
    assert.equal(r.code, 1);
    const answers = (prefix) =>
      r.out
        .split('\n')
        .filter((l) => l.includes(prefix))
        .map((l) => l.replace(prefix, 'QUEUE'));
    const agent = answers('$.async_agent[0].extra_config["async/amqp"]');
    const consumer = answers('$.endpoints[0].backend[0].extra_config["backend/amqp/consumer"]');
    assert.equal(agent.length, Object.keys(wrong).length, r.out);
    assert.deepEqual(agent, consumer);
  });

  test('gw run refuses an invalid agent (exit 1) rather than serving without it', async () => {
    const r = await runGw(['run', '-c', writeConfig(base({}))]);
    assert.equal(r.code, 1);
    assert.match(r.stdout + r.stderr, /no driver/);
  });
});
