// backend/pubsub/publisher and backend/pubsub/subscriber with the NATS and RabbitMQ drivers, against
// a real nats-server and RabbitMQ, through real `gw run`, with the docs' "Publisher/Subscribe"
// configs (host naming the driver, url_pattern "/ignored", the server in an environment variable).
// Behaviour from krakend-pubsub client.go (initPublisher, initSubscriber) on gocloud's natspubsub
// and rabbitpubsub URL openers.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import amqp from 'amqplib';
import { connect as natsConnect } from 'nats';
import { Client } from 'undici';
import { freePort, get, runGw, sleep, startGateway, until, writeConfig } from './helpers/gateway.mjs';
import { noNats, startNats } from './helpers/nats.mjs';
import { noRabbitMQ, startRabbitMQ } from './helpers/rabbitmq.mjs';

const publisherBackend = (host, topic) => ({
  host: [host],
  url_pattern: '/ignored',
  disable_host_sanitize: true,
  extra_config: { 'backend/pubsub/publisher': { topic_url: topic } },
});
const subscriberBackend = (host, subscription) => ({
  host: [host],
  url_pattern: '/ignored',
  disable_host_sanitize: true,
  extra_config: { 'backend/pubsub/subscriber': { subscription_url: subscription } },
});

describe('pub/sub: NATS driver', { skip: noNats, timeout: 120000 }, () => {
  let nats;
  before(async () => {
    nats = await startNats();
  });
  after(async () => {
    await nats?.stop();
  });

  test('client.go: a publisher endpoint sends the body and headers to the subject; a subscriber endpoint takes each message once', async () => {
    const nc = await natsConnect({ servers: nats.url });
    const seen = [];
    nc.subscribe('orders', { callback: (_e, m) => seen.push(m) });
    const gw = await startGateway(
      {
        version: 3,
        timeout: '1s',
        endpoints: [
          {
            endpoint: '/publish',
            method: 'POST',
            input_headers: ['X-Trace'],
            backend: [publisherBackend('nats://', 'orders')],
          },
          { endpoint: '/subscribe', backend: [subscriberBackend('nats://', 'orders')] },
        ],
      },
      { env: { NATS_SERVER_URL: nats.url } },
    );
    try {
      await until(
        async () => (await get(`${gw.url}/publish`, { method: 'POST', body: '{"warm":1}' })).status === 200,
        15000,
        'the publisher',
      );
      // gw subscribes in the background: warm-up messages until one reaches it, then none left.
      await until(
        async () => {
          await get(`${gw.url}/publish`, { method: 'POST', body: '{"warm":1}' });
          return (await get(`${gw.url}/subscribe`)).status === 200;
        },
        15000,
        'the subscriber',
      );
      while ((await get(`${gw.url}/subscribe`)).status === 200);
      seen.length = 0;
      for (let i = 0; i < 6; i++) {
        const r = await get(`${gw.url}/publish`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'x-trace': `t${i}` },
          body: JSON.stringify({ i }),
        });
        assert.equal(r.status, 200);
        assert.deepEqual(r.json, {});
      }
      await until(() => seen.length >= 6, 5000, 'the test subscriber');
      const last = seen[seen.length - 1];
      assert.equal(new TextDecoder().decode(last.data), '{"i":5}');
      assert.equal(last.headers.get('X-Trace'), 't5');
      const got = [];
      for (let i = 0; i < 6; i++) {
        const r = await get(`${gw.url}/subscribe`);
        assert.equal(r.status, 200, r.text);
        got.push(r.json.i);
      }
      assert.deepEqual(got.sort(), [0, 1, 2, 3, 4, 5], 'each message once');
      // None left: the request waits for the timeout and fails.
      assert.equal((await get(`${gw.url}/subscribe`)).status, 500);
    } finally {
      await gw.stop();
      await nc.close();
    }
  });

  // KrakenD holds one subscription per process; gw's worker threads hold one each, in a queue
  // group, so NATS hands a message to any of them. All requests here come on one keep-alive
  // connection, so one thread serves them all: the messages NATS gave the other thread must reach
  // it (src/backends/mailbox.ts SharedMailbox). Needs two worker threads on one port (uWS, or
  // node:http on Node >= 22.12).
  test('two worker threads: every message published before the requests reaches a request, each once', async (t) => {
    const gw = await startGateway(
      {
        version: 3,
        timeout: '1s',
        endpoints: [{ endpoint: '/subscribe', backend: [subscriberBackend('nats://', 'threads')] }],
      },
      { env: { NATS_SERVER_URL: nats.url }, args: ['--workers', '2'] },
    );
    const client = new Client(gw.url, { pipelining: 1 });
    const nc = await natsConnect({ servers: nats.url });
    try {
      if (!/, 2 workers\)/.test(gw.logs())) {
        t.skip('this platform serves one port from one thread');
        return;
      }
      await gw.waitForLog(/connected to[\s\S]*connected to/, 15000);
      // Each thread subscribes within 50 ms of connecting; NATS knows of both once it answers a ping.
      await sleep(500);
      await nc.flush();
      const n = 16;
      for (let i = 0; i < n; i++) nc.publish('threads', JSON.stringify({ i }));
      await nc.flush();
      await sleep(300);
      const got = [];
      for (let i = 0; i < n; i++) {
        const r = await client.request({ path: '/subscribe', method: 'GET' });
        const text = await r.body.text();
        assert.equal(r.statusCode, 200, `request ${i}: ${text}`);
        got.push(JSON.parse(text).i);
      }
      assert.deepEqual(
        got.sort((a, b) => a - b),
        Array.from({ length: n }, (_, i) => i),
        'each message once',
      );
      const none = await client.request({ path: '/subscribe', method: 'GET' });
      await none.body.text();
      assert.equal(none.statusCode, 500, 'none left');
    } finally {
      await client.close();
      await nc.close();
      await gw.stop();
    }
  });

  // NATS keeps nothing: what gw holds for later requests must survive a reload, which replaces
  // the subscriber's configuration (src/backends/mailbox.ts SharedMailbox.close).
  test('a reload keeps the messages no request took yet: the new configuration serves them', async () => {
    const port = await freePort();
    const configFor = (extra) => ({
      version: 3,
      port,
      listen_ip: '127.0.0.1',
      timeout: '1s',
      endpoints: [
        { endpoint: '/subscribe', backend: [subscriberBackend('nats://', 'reloaded')] },
        { endpoint: extra, backend: [{ host: ['http://127.0.0.1:9'], url_pattern: '/' }] },
      ],
    });
    const file = writeConfig(configFor('/a'));
    const gw = await startGateway(null, {
      file,
      port,
      args: ['--workers', '1'],
      env: { NATS_SERVER_URL: nats.url },
    });
    const nc = await natsConnect({ servers: nats.url });
    try {
      await gw.waitForLog(/connected to/, 15000);
      await sleep(300);
      for (let i = 0; i < 3; i++) nc.publish('reloaded', JSON.stringify({ i }));
      await nc.flush();
      await sleep(300);
      writeFileSync(file, JSON.stringify(configFor('/b')));
      gw.child.kill('SIGHUP');
      await gw.waitForLog(/the new configuration serves/, 15000);
      // The old configuration closes once its longest timeout (1 s) and a second more have passed.
      await sleep(3500);
      const got = [];
      for (let i = 0; i < 3; i++) {
        const r = await get(`${gw.url}/subscribe`);
        assert.equal(r.status, 200, `request ${i}: ${r.text}`);
        got.push(r.json.i);
      }
      assert.deepEqual(got, [0, 1, 2], 'in the order NATS delivered them');
    } finally {
      await nc.close();
      await gw.stop();
    }
  });

  test('without NATS_SERVER_URL gw starts, says so, and the backend fails its requests', async () => {
    const gw = await startGateway(
      { version: 3, endpoints: [{ endpoint: '/s', backend: [subscriberBackend('nats://', 'x')] }] },
      { env: { NATS_SERVER_URL: '' } },
    );
    try {
      assert.equal((await get(`${gw.url}/s`)).status, 500);
      assert.match(await gw.waitForLog(/NATS_SERVER_URL is not set/), /NATS_SERVER_URL is not set/);
    } finally {
      await gw.stop();
    }
  });
});

describe('pub/sub: RabbitMQ driver', { skip: noRabbitMQ, timeout: 120000 }, () => {
  let rmq;
  before(async () => {
    rmq = await startRabbitMQ();
  });
  after(async () => {
    await rmq?.stop();
  });

  test('client.go: rabbit:// publishes to the exchange, amqp:// (the docs example) consumes the queue; RABBIT_SERVER_URL without a scheme', async () => {
    // As gocloud, gw declares neither: the operator did.
    const conn = await amqp.connect(rmq.url);
    const ch = await conn.createChannel();
    await ch.assertExchange('myexchange', 'fanout', { durable: true });
    await ch.assertQueue('myqueue', { durable: true });
    await ch.bindQueue('myqueue', 'myexchange', '');
    const gw = await startGateway(
      {
        version: 3,
        timeout: '1s',
        endpoints: [
          { endpoint: '/publish', method: 'POST', backend: [publisherBackend('rabbit://', 'myexchange')] },
          { endpoint: '/subscribe', backend: [subscriberBackend('amqp://', 'myqueue')] },
        ],
      },
      { env: { RABBIT_SERVER_URL: `guest:guest@127.0.0.1:${rmq.port}` } },
    );
    try {
      await until(
        async () => (await get(`${gw.url}/publish`, { method: 'POST', body: '{"n":1}' })).status === 200,
        20000,
        'the publisher',
      );
      assert.equal((await get(`${gw.url}/publish`, { method: 'POST', body: '{"n":2}' })).status, 200);
      const a = await until(
        async () => {
          const r = await get(`${gw.url}/subscribe`);
          return r.status === 200 ? r : undefined;
        },
        20000,
        'the subscriber',
      );
      const b = await get(`${gw.url}/subscribe`);
      assert.deepEqual([a.json, b.json], [{ n: 1 }, { n: 2 }]);
      await gw.stop();
      assert.equal((await ch.checkQueue('myqueue')).messageCount, 0, 'acked');
    } finally {
      await gw.stop();
      await conn.close();
    }
  });
});

describe('gw check: pub/sub drivers', () => {
  test('Kafka, GCP, AWS and Azure drivers are refused by name, with what gw supports', async () => {
    const cases = [
      ['kafka://', 'Kafka'],
      ['gcppubsub://', 'GCP Pub/Sub'],
      ['awssns:///arn:aws:sns:us-east-2:123456789012:mytopic', 'AWS SNS'],
      ['awssqs://sqs.us-east-2.amazonaws.com/123456789012', 'AWS SQS'],
      ['azuresb://', 'Azure Service Bus'],
    ];
    for (const [host, name] of cases) {
      const r = await runGw([
        'check',
        '-c',
        writeConfig({
          version: 3,
          endpoints: [{ endpoint: '/s', backend: [subscriberBackend(host, 'mytopic')] }],
        }),
      ]);
      assert.equal(r.code, 1, host);
      const out = r.stdout + r.stderr;
      assert.match(out, /\$\.endpoints\[0\]\.backend\[0\]\.host\[0\]/);
      assert.ok(out.includes(`the ${name} driver`), out);
      assert.match(out, /supported: "nats:\/\/".*"rabbit:\/\/"/);
    }
  });

  test('the docs NATS and RabbitMQ backends are valid', async () => {
    const r = await runGw([
      'check',
      '-c',
      writeConfig({
        version: 3,
        endpoints: [
          { endpoint: '/a', backend: [subscriberBackend('nats://', 'mysubject')] },
          { endpoint: '/b', backend: [subscriberBackend('rabbit://', 'myqueue')] },
          { endpoint: '/c', method: 'POST', backend: [publisherBackend('rabbit://', 'myexchange')] },
        ],
      }),
    ]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
  });
});
