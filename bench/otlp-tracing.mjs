// CPU cost per request of OTLP tracing (telemetry/opentelemetry exporters.otlp), in one thread:
// the three layer middlewares (server, proxy, backend spans) around stub stages, with a no-op
// exporter, against the same stubs without them; then the OTLP protobuf encoding of the spans
// that the batch processor does later, off the request path. Needs `npm run build:ts` first.
// Usage: node bench/otlp-tracing.mjs [requests]   (about 10 s with the default 200,000)
import { ProtobufTraceSerializer } from '@opentelemetry/otlp-transformer';
import {
  AlwaysOnSampler,
  BasicTracerProvider,
  BatchSpanProcessor,
  InMemorySpanExporter,
  ParentBasedSampler,
  SimpleSpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import { OtlpTracing, traceLayers } from '../dist/telemetry/otlp.js';

const N = Number(process.argv[2] ?? 200_000);
const endpoint = { endpoint: '/doc', method: 'GET' };
const backendCfg = { url_pattern: '/doc.json' };
const CALLER = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
const noopExporter = { export: (_spans, done) => done({ code: 0 }), shutdown: async () => {} };

function pipeline(tracing) {
  const id = (mw) => mw ?? ((next) => next);
  const backend = id(tracing?.backend(endpoint, backendCfg))(async () => ({
    status: 200,
    headers: {},
    body: Buffer.alloc(0),
  }));
  const proxy = id(tracing?.proxy(endpoint))(async (req) => {
    await backend({
      method: 'GET',
      path: '/doc.json',
      headers: { 'User-Agent': 'x' },
      body: null,
      params: {},
      origin: req,
      deadline: 0,
    });
    return { data: {}, isComplete: true };
  });
  return id(tracing?.endpoint(endpoint))(async (req) => {
    await proxy(req);
    return { status: 200, headers: {}, body: '' };
  });
}

function traced(rate, processor = new BatchSpanProcessor(noopExporter)) {
  const provider = new BasicTracerProvider({
    sampler: new ParentBasedSampler({ root: new AlwaysOnSampler() }),
    spanProcessors: [processor],
  });
  return new OtlpTracing(provider.getTracer('bench'), traceLayers({}), rate);
}

const request = (headers) => ({
  method: 'GET',
  path: '/doc',
  query: '',
  headers,
  params: {},
  body: null,
  clientIp: '127.0.0.1',
});

async function perRequestUs(stage, headers = {}) {
  for (let i = 0; i < 20_000; i++) await stage(request(headers));
  const started = performance.now();
  for (let i = 0; i < N; i++) await stage(request(headers));
  return ((performance.now() - started) * 1000) / N;
}

const base = await perRequestUs(pipeline(undefined));
const rows = [
  ['trace_sample_rate 0', await perRequestUs(pipeline(traced(0)))],
  ['trace_sample_rate 0.1', await perRequestUs(pipeline(traced(0.1)))],
  ['trace_sample_rate 1', await perRequestUs(pipeline(traced(1)))],
  [
    'trace_sample_rate 1, caller traceparent',
    await perRequestUs(pipeline(traced(1)), { traceparent: CALLER }),
  ],
];
console.log(`no tracing: ${base.toFixed(2)} µs/request (stub stages)`);
for (const [name, us] of rows) console.log(`${name.padEnd(40)} +${(us - base).toFixed(2)} µs/request`);

const memory = new InMemorySpanExporter();
const stage = pipeline(traced(1, new SimpleSpanProcessor(memory)));
for (let i = 0; i < 170; i++) await stage(request({}));
const spans = memory.getFinishedSpans();
let bytes = 0;
const started = performance.now();
for (let i = 0; i < 200; i++) bytes = ProtobufTraceSerializer.serializeRequest(spans).length;
const us = ((performance.now() - started) * 1000) / 200;
console.log(
  `OTLP protobuf encoding: ${(us / 170).toFixed(2)} µs and ${(bytes / 170).toFixed(0)} bytes per request (3 spans)`,
);
