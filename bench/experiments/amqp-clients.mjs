// How gw chose its AMQP 0-9-1 client: amqplib against rabbitmq-client on one real RabbitMQ (the
// test helper's), N messages each: the import's time, the publish rate on a confirm channel and
// the consume+ack rate (prefetch 100). One client per run, so runs can alternate:
//
//   npm install --no-save rabbitmq-client
//   for i in 1 2 3; do node bench/experiments/amqp-clients.mjs amqplib; node bench/experiments/amqp-clients.mjs rabbitmq-client; done
import { startRabbitMQ } from '../../test/helpers/rabbitmq.mjs';

const N = Number(process.env.N ?? 30000);
const which = process.argv[2] ?? 'amqplib';
const body = Buffer.from(JSON.stringify({ id: 1, name: 'message', tags: ['a', 'b'] }));
const perSecond = (started) => Math.round(N / ((performance.now() - started) / 1000));

async function withAmqplib(url) {
  let t = performance.now();
  const { default: lib } = await import('amqplib');
  const loadMs = performance.now() - t;
  const conn = await lib.connect(url);
  const ch = await conn.createConfirmChannel();
  await ch.assertQueue('q1', { durable: false });
  t = performance.now();
  for (let i = 0; i < N; i++) if (!ch.sendToQueue('q1', body)) await new Promise((r) => ch.once('drain', r));
  await ch.waitForConfirms();
  const publish = perSecond(t);
  const c = await conn.createChannel();
  await c.prefetch(100);
  t = performance.now();
  let got = 0;
  await new Promise((done) =>
    c.consume('q1', (m) => {
      c.ack(m);
      if (++got === N) done();
    }),
  );
  const consume = perSecond(t);
  await conn.close();
  return { loadMs, publish, consume };
}

async function withRabbitmqClient(url) {
  let t = performance.now();
  const { Connection } = await import('rabbitmq-client');
  const loadMs = performance.now() - t;
  const rabbit = new Connection(url);
  await rabbit.queueDeclare({ queue: 'q2', durable: false });
  const pub = rabbit.createPublisher({ confirm: true, maxAttempts: 1 });
  t = performance.now();
  let pending = [];
  for (let i = 0; i < N; i++) {
    pending.push(pub.send('q2', body));
    if (pending.length >= 1000) {
      await Promise.all(pending);
      pending = [];
    }
  }
  await Promise.all(pending);
  const publish = perSecond(t);
  t = performance.now();
  let got = 0;
  let sub;
  await new Promise((done) => {
    sub = rabbit.createConsumer({ queue: 'q2', qos: { prefetchCount: 100 } }, async () => {
      if (++got === N) done();
    });
  });
  const consume = perSecond(t);
  await sub.close();
  await pub.close();
  await rabbit.close();
  return { loadMs, publish, consume };
}

const broker = await startRabbitMQ();
try {
  const r =
    which === 'rabbitmq-client' ? await withRabbitmqClient(broker.url) : await withAmqplib(broker.url);
  console.log(
    `${which}: import ${r.loadMs.toFixed(0)} ms, publish ${r.publish} msg/s, consume+ack ${r.consume} msg/s (${N} messages)`,
  );
} finally {
  await broker.stop();
}
