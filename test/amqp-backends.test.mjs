// backend/amqp/consumer and backend/amqp/producer against a real RabbitMQ, through real `gw run`,
// with the configs of the docs' "AMQP Consumer/Producer Integration" pages (no url_pattern).
// Behaviour from krakend-amqp consumer.go (initConsumer, newConsumer) and producer.go
// (initProducer, newProducer).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import amqp from 'amqplib';
import { get, runGw, sleep, startGateway, until, writeConfig } from './helpers/gateway.mjs';
import { noRabbitMQ, startRabbitMQ } from './helpers/rabbitmq.mjs';

/** The docs' consumer settings, on `queue` bound to `exchange`. */
const consumerCfg = (queue, exchange, extra = {}) => ({
  name: queue,
  exchange,
  durable: true,
  delete: false,
  no_wait: true,
  no_local: false,
  routing_key: ['#'],
  prefetch_count: 10,
  auto_ack: false,
  backoff_strategy: 'exponential-jitter',
  ...extra,
});

describe('AMQP backends (krakend-amqp)', { skip: noRabbitMQ, timeout: 240000 }, () => {
  let rmq;
  before(async () => {
    rmq = await startRabbitMQ();
  });
  after(async () => {
    await rmq?.stop();
  });

  test('producer.go: the docs producer publishes the body, routing key, expiration, reply-to, id, priority and headers from capitalised params', async () => {
    // A queue of the test's own, bound to the exchange, sees what the producer published.
    const conn = await amqp.connect(rmq.url);
    const ch = await conn.createChannel();
    await ch.assertExchange('produce-ex', 'topic', { durable: true });
    const { queue } = await ch.assertQueue('', { exclusive: true });
    await ch.bindQueue(queue, 'produce-ex', 'orders.*');
    const gw = await startGateway({
      version: 3,
      endpoints: [
        {
          endpoint: '/produce/{a}/{b}/{id}/{prio}/{route}',
          method: 'POST',
          input_headers: ['Content-Type', 'X-Trace'],
          backend: [
            {
              host: [rmq.url],
              disable_host_sanitize: true,
              extra_config: {
                'backend/amqp/producer': {
                  name: 'queue-1',
                  exchange: 'produce-ex',
                  durable: true,
                  delete: false,
                  no_wait: true,
                  no_local: false,
                  routing_key: 'Route',
                  mandatory: false,
                  immediate: false,
                  backoff_strategy: 'exponential-jitter',
                  exp_key: 'A',
                  reply_to_key: 'B',
                  msg_id_key: 'Id',
                  priority_key: 'Prio',
                },
              },
            },
          ],
        },
      ],
    });
    try {
      const res = await until(
        async () => {
          const r = await get(`${gw.url}/produce/60000/replies/m-1/7/orders.new`, {
            method: 'POST',
            headers: { 'content-type': 'application/json', 'x-trace': 'abc' },
            body: '{"order":1}',
          });
          return r.status === 200 ? r : undefined;
        },
        20000,
        'the producer to connect',
      );
      assert.deepEqual(res.json, {});
      const msg = await until(() => ch.get(queue, { noAck: true }), 5000, 'the message');
      assert.equal(msg.content.toString(), '{"order":1}');
      assert.equal(msg.fields.routingKey, 'orders.new');
      assert.equal(msg.properties.expiration, '60000');
      assert.equal(msg.properties.replyTo, 'replies');
      assert.equal(msg.properties.messageId, 'm-1');
      assert.equal(msg.properties.priority, 7);
      assert.equal(msg.properties.contentType, 'application/json');
      assert.deepEqual(msg.properties.headers['X-Trace'], ['abc']);
      // A routing key nothing is bound to: published and confirmed, and not in our queue.
      const other = await get(`${gw.url}/produce/1/r/m-2/1/elsewhere`, { method: 'POST', body: 'x' });
      assert.equal(other.status, 200);
      await sleep(200);
      assert.equal(await ch.get(queue, { noAck: true }), false);
    } finally {
      await gw.stop();
      await conn.close();
    }
  });

  test('consumer.go: the docs consumer declares exchange and queue, each request takes one message, decoded and acked; manipulation applies (2 workers)', async () => {
    const gw = await startGateway(
      {
        version: 3,
        timeout: '1s',
        endpoints: [
          {
            endpoint: '/consume',
            backend: [
              {
                host: [rmq.url],
                disable_host_sanitize: true,
                allow: ['id', 'name'],
                mapping: { name: 'title' },
                extra_config: { 'backend/amqp/consumer': consumerCfg('consume-q', 'consume-ex') },
              },
            ],
          },
        ],
        // Two workers (where the platform has them): a message must reach whichever serves the request.
      },
      { args: ['--workers', '2'] },
    );
    const conn = await amqp.connect(rmq.url);
    const ch = await conn.createConfirmChannel();
    try {
      // gw declared them: publishing to the exchange reaches the queue.
      await until(
        async () => {
          const c = await conn.createChannel();
          c.on('error', () => {});
          try {
            await c.checkQueue('consume-q');
            return true;
          } catch {
            return false;
          }
        },
        20000,
        'gw to declare the queue',
      );
      // Each worker links to the broker on its own: requests may reach any of them.
      const workers = Number(/, (\d+) workers?[,)]/.exec(gw.logs())?.[1] ?? 1);
      await until(
        () => (gw.logs().match(/connection attempt #\d+: connected/g) ?? []).length >= workers,
        20000,
        "every worker's link",
      );
      for (let i = 1; i <= 3; i++)
        ch.publish(
          'consume-ex',
          'any.key',
          Buffer.from(JSON.stringify({ id: i, name: `n${i}`, secret: 'x' })),
        );
      await ch.waitForConfirms();
      const got = [];
      for (let i = 0; i < 3; i++) got.push((await get(`${gw.url}/consume`)).json);
      assert.deepEqual(got, [
        { id: 1, title: 'n1' },
        { id: 2, title: 'n2' },
        { id: 3, title: 'n3' },
      ]);
      // Nothing left: the request waits for the timeout, then fails (lura: context deadline).
      const empty = await get(`${gw.url}/consume`);
      assert.equal(empty.status, 500);
      // Acked: none is in the queue any more once gw stops (unacked would come back).
      await gw.stop();
      const q = await (await conn.createChannel()).checkQueue('consume-q');
      assert.equal(q.messageCount, 0);
    } finally {
      await gw.stop();
      await conn.close();
    }
  });

  test('consumer.go: a message that does not decode is nacked: requeued by default, dropped with nack_discard', async () => {
    const gw = await startGateway({
      version: 3,
      timeout: '1s',
      endpoints: [
        {
          endpoint: '/requeue',
          backend: [
            {
              host: [rmq.url],
              disable_host_sanitize: true,
              extra_config: {
                'backend/amqp/consumer': consumerCfg('bad-requeue', 'bad-ex', { routing_key: ['requeue'] }),
              },
            },
          ],
        },
        {
          endpoint: '/discard',
          backend: [
            {
              host: [rmq.url],
              disable_host_sanitize: true,
              extra_config: {
                'backend/amqp/consumer': consumerCfg('bad-discard', 'bad-ex', {
                  routing_key: ['discard'],
                  nack_discard: true,
                }),
              },
            },
          ],
        },
      ],
    });
    const conn = await amqp.connect(rmq.url);
    const ch = await conn.createConfirmChannel();
    try {
      await until(
        async () => {
          const c = await conn.createChannel();
          c.on('error', () => {});
          try {
            await c.checkQueue('bad-requeue');
            await c.checkQueue('bad-discard');
            return true;
          } catch {
            return false;
          }
        },
        20000,
        'the queues',
      );
      ch.publish('bad-ex', 'requeue', Buffer.from('not json'));
      ch.publish('bad-ex', 'discard', Buffer.from('not json'));
      ch.publish('bad-ex', 'discard', Buffer.from('{"ok":true}'));
      await ch.waitForConfirms();
      assert.equal((await get(`${gw.url}/requeue`)).status, 500);
      // Requeued: the same message comes again.
      assert.equal((await get(`${gw.url}/requeue`)).status, 500);
      assert.equal((await get(`${gw.url}/discard`)).status, 500);
      // Discarded: the next request gets the next message.
      const next = await get(`${gw.url}/discard`);
      assert.equal(next.status, 200);
      assert.deepEqual(next.json, { ok: true });
      await gw.stop();
      // Still in its queue (the broker may count it once it has closed gw's channel).
      await until(
        async () => (await (await conn.createChannel()).checkQueue('bad-requeue')).messageCount === 1,
        5000,
        'the undecodable message back in its queue',
      );
    } finally {
      await gw.stop();
      await conn.close();
    }
  });

  test('client.go connect: with the broker down requests fail at once; gw reconnects by backoff_strategy when it is back', async () => {
    const gw = await startGateway({
      version: 3,
      timeout: '1s',
      endpoints: [
        {
          endpoint: '/c',
          backend: [
            {
              host: [rmq.url],
              disable_host_sanitize: true,
              extra_config: {
                'backend/amqp/consumer': consumerCfg('reconnect-q', 'reconnect-ex', {
                  backoff_strategy: 'linear',
                }),
              },
            },
          ],
        },
      ],
    });
    try {
      await gw.waitForLog(/connected/, 20000);
      await rmq.restart({ downMs: 1500 });
      const conn = await amqp.connect(rmq.url);
      const ch = await conn.createConfirmChannel();
      // The queue survived the restart (durable): publish, then ask until gw is back.
      await ch.assertExchange('reconnect-ex', 'topic', { durable: true });
      ch.publish('reconnect-ex', 'k', Buffer.from('{"back":1}'));
      await ch.waitForConfirms();
      const res = await until(
        async () => {
          const r = await get(`${gw.url}/c`);
          return r.status === 200 ? r : undefined;
        },
        30000,
        'gw to read the queue again',
      );
      assert.deepEqual(res.json, { back: 1 });
      assert.match(gw.logs(), /connection lost: reconnecting/);
      await conn.close();
    } finally {
      await gw.stop();
    }
  });

  test('a request while the broker is unreachable answers 500 at once, and gw keeps serving', async () => {
    const gw = await startGateway({
      version: 3,
      timeout: '3s',
      endpoints: [
        {
          endpoint: '/c',
          backend: [
            {
              host: ['amqp://guest:guest@127.0.0.1:1'],
              disable_host_sanitize: true,
              extra_config: { 'backend/amqp/consumer': consumerCfg('q', 'ex') },
            },
          ],
        },
      ],
    });
    try {
      const started = Date.now();
      const res = await get(`${gw.url}/c`);
      assert.equal(res.status, 500);
      assert.ok(Date.now() - started < 2500, 'failed before the 3s timeout');
      assert.equal((await get(`${gw.url}/__health`)).status, 200);
    } finally {
      await gw.stop();
    }
  });
});

describe('gw check: AMQP backends', () => {
  test('the docs consumer (no url_pattern) is valid; an HTTP host or a bad field is refused with its path', async () => {
    const backend = (host, cfg) => ({
      version: 3,
      endpoints: [
        {
          endpoint: '/c',
          backend: [
            { host: [host], disable_host_sanitize: true, extra_config: { 'backend/amqp/consumer': cfg } },
          ],
        },
      ],
    });
    const ok = await runGw([
      'check',
      '-c',
      writeConfig(
        backend('amqp://guest:guest@myqueue.host.com:5672', consumerCfg('queue-1', 'some-exchange')),
      ),
    ]);
    assert.equal(ok.code, 0, ok.stdout + ok.stderr);
    const http = await runGw(['check', '-c', writeConfig(backend('http://api:8080', consumerCfg('q', 'e')))]);
    assert.equal(http.code, 1);
    assert.match(http.stdout + http.stderr, /\$\.endpoints\[0\]\.backend\[0\]\.host: .*amqp:\/\//);
    const bad = await runGw([
      'check',
      '-c',
      writeConfig(backend('amqp://h:5672', { ...consumerCfg('q', 'e'), prefetch_count: 'ten' })),
    ]);
    assert.equal(bad.code, 1);
    assert.match(bad.stdout + bad.stderr, /backend\/amqp\/consumer.*prefetch_count/);
  });

  test('an HTTP backend without url_pattern is accepted: it calls / (Lura config.go, initBackendURLMappings)', async () => {
    const r = await runGw([
      'check',
      '-c',
      writeConfig({ version: 3, endpoints: [{ endpoint: '/x', backend: [{ host: ['http://a:1'] }] }] }),
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.doesNotMatch(r.stdout + r.stderr, /url_pattern/);
  });
});
