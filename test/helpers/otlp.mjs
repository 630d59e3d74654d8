// A real OTLP receiver for tests: OTLP/HTTP (protobuf POSTs to /v1/traces and /v1/metrics) on
// node:http, or OTLP/gRPC with @grpc/grpc-js, both on 127.0.0.1. Bodies are decoded with a small
// protobuf wire reader into plain spans and metric points (only the fields the tests look at).
import { startBackend } from './gateway.mjs';

/** Protobuf wire format → Map(field number → values): Buffers for length-delimited, BigInt for varints. */
function fields(buf) {
  const out = new Map();
  let i = 0;
  const varint = () => {
    let result = 0n;
    let shift = 0n;
    for (;;) {
      const b = buf[i++];
      result |= BigInt(b & 0x7f) << shift;
      if ((b & 0x80) === 0) return result;
      shift += 7n;
    }
  };
  while (i < buf.length) {
    const key = Number(varint());
    const field = key >>> 3;
    const wire = key & 7;
    let value;
    if (wire === 0) value = varint();
    else if (wire === 1) {
      value = buf.subarray(i, i + 8);
      i += 8;
    } else if (wire === 2) {
      const len = Number(varint());
      value = buf.subarray(i, i + len);
      i += len;
    } else if (wire === 5) {
      value = buf.subarray(i, i + 4);
      i += 4;
    } else throw new Error(`unsupported wire type ${wire}`);
    if (!out.has(field)) out.set(field, []);
    out.get(field).push(value);
  }
  return out;
}

const all = (f, n) => f.get(n) ?? [];
const one = (f, n) => all(f, n)[0];
const str = (b) => (b === undefined ? undefined : b.toString('utf8'));
const hex = (b) => (b === undefined ? '' : Buffer.from(b).toString('hex'));

function anyValue(buf) {
  const f = fields(buf);
  if (f.has(1)) return str(one(f, 1));
  if (f.has(2)) return one(f, 2) !== 0n;
  if (f.has(3)) return Number(BigInt.asIntN(64, one(f, 3)));
  if (f.has(4)) return one(f, 4).readDoubleLE(0);
  if (f.has(5)) return all(fields(one(f, 5)), 1).map(anyValue);
  return undefined;
}

function attributes(list) {
  const out = {};
  for (const kv of list) {
    const f = fields(kv);
    out[str(one(f, 1))] = f.has(2) ? anyValue(one(f, 2)) : undefined;
  }
  return out;
}

/** ExportTraceServiceRequest → [{ name, kind, traceId, spanId, parentSpanId, start, end (ns, BigInt), attributes, resource, status }]. */
export function decodeTraces(body) {
  const spans = [];
  for (const rs of all(fields(body), 1)) {
    const rsf = fields(rs);
    const resource = rsf.has(1) ? attributes(all(fields(one(rsf, 1)), 1)) : {};
    for (const ss of all(rsf, 2)) {
      for (const sp of all(fields(ss), 2)) {
        const f = fields(sp);
        const status = f.has(15) ? fields(one(f, 15)) : new Map();
        spans.push({
          traceId: hex(one(f, 1)),
          spanId: hex(one(f, 2)),
          parentSpanId: hex(one(f, 4)),
          name: str(one(f, 5)),
          kind: Number(one(f, 6) ?? 0n),
          start: one(f, 7)?.readBigUInt64LE(0),
          end: one(f, 8)?.readBigUInt64LE(0),
          attributes: attributes(all(f, 9)),
          resource,
          statusCode: Number(one(status, 3) ?? 0n),
        });
      }
    }
  }
  return spans;
}

/** ExportMetricsServiceRequest → [{ name, unit, resource, attributes, count, sum, bounds, counts }] (histograms). */
export function decodeMetrics(body) {
  const points = [];
  for (const rm of all(fields(body), 1)) {
    const rmf = fields(rm);
    const resource = rmf.has(1) ? attributes(all(fields(one(rmf, 1)), 1)) : {};
    for (const sm of all(rmf, 2)) {
      for (const m of all(fields(sm), 2)) {
        const mf = fields(m);
        const name = str(one(mf, 1));
        const unit = str(one(mf, 3));
        if (!mf.has(9)) {
          points.push({ name, unit, resource, type: 'other' });
          continue;
        }
        for (const dp of all(fields(one(mf, 9)), 1)) {
          const f = fields(dp);
          const packed = (n, width, read) =>
            all(f, n).flatMap((b) => {
              const vals = [];
              for (let o = 0; o + width <= b.length; o += width) vals.push(read(b, o));
              return vals;
            });
          points.push({
            name,
            unit,
            resource,
            type: 'histogram',
            attributes: attributes(all(f, 9)),
            count: Number(one(f, 4)?.readBigUInt64LE(0) ?? 0n),
            sum: one(f, 5)?.readDoubleLE(0),
            counts: packed(6, 8, (b, o) => Number(b.readBigUInt64LE(o))),
            bounds: packed(7, 8, (b, o) => b.readDoubleLE(o)),
          });
        }
      }
    }
  }
  return points;
}

function receiverState() {
  const state = {
    spans: [],
    metrics: [],
    posts: { traces: 0, metrics: 0 },
    /** Resolves when `predicate(state)` holds (checked on each arrival and every 50 ms). */
    async until(predicate, timeoutMs = 10000) {
      const deadline = Date.now() + timeoutMs;
      while (!predicate(state)) {
        if (Date.now() > deadline) throw new Error(`OTLP receiver: condition not met in ${timeoutMs} ms`);
        await new Promise((r) => setTimeout(r, 50));
      }
      return state;
    },
  };
  return state;
}

/** OTLP/HTTP receiver: { port, spans, metrics, posts, until(), close() }. */
export async function startOtlpHttpReceiver() {
  const state = receiverState();
  const server = await startBackend((req, res, body) => {
    if (req.method === 'POST' && req.url === '/v1/traces') {
      state.posts.traces++;
      state.spans.push(...decodeTraces(body));
    } else if (req.method === 'POST' && req.url === '/v1/metrics') {
      state.posts.metrics++;
      state.metrics.push(...decodeMetrics(body));
    } else {
      res.writeHead(404);
      res.end();
      return;
    }
    // an empty ExportServiceResponse
    res.writeHead(200, { 'content-type': 'application/x-protobuf' });
    res.end();
  });
  state.port = server.port;
  state.close = server.close;
  return state;
}

/** OTLP/gRPC receiver on @grpc/grpc-js (raw bytes in, empty response out). */
export async function startOtlpGrpcReceiver() {
  const grpc = await import('@grpc/grpc-js');
  const state = receiverState();
  const raw = (path) => ({
    path,
    requestStream: false,
    responseStream: false,
    requestSerialize: (b) => b,
    requestDeserialize: (b) => b,
    responseSerialize: () => Buffer.alloc(0),
    responseDeserialize: (b) => b,
  });
  const server = new grpc.Server();
  server.addService(
    { Export: raw('/opentelemetry.proto.collector.trace.v1.TraceService/Export') },
    {
      Export: (call, cb) => {
        state.posts.traces++;
        state.spans.push(...decodeTraces(call.request));
        cb(null, Buffer.alloc(0));
      },
    },
  );
  server.addService(
    { Export: raw('/opentelemetry.proto.collector.metrics.v1.MetricsService/Export') },
    {
      Export: (call, cb) => {
        state.posts.metrics++;
        state.metrics.push(...decodeMetrics(call.request));
        cb(null, Buffer.alloc(0));
      },
    },
  );
  state.port = await new Promise((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, port) =>
      err ? reject(err) : resolve(port),
    ),
  );
  state.close = () => new Promise((r) => server.tryShutdown(() => r()));
  return state;
}
