// Differential tests: the WASM transform against the TypeScript reference (the specification).
// Seeded property-based generation of documents × manipulation plans; both paths must give
// JSON-equal output with the same key order (compared as JSON.stringify(JSON.parse(bytes)), which
// normalises only what JS itself cannot tell apart: number spelling, string escapes, the place of
// integer-like keys), or both must refuse the input with TransformInputError.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import {
  createWasmEndpointTransform,
  jsEndpointTransform,
  TransformInputError,
  wasmTransformStats,
} from '../dist/transform/wasm/index.js';

// GW_TRANSFORM_SEED / GW_TRANSFORM_SCALE explore further (e.g. SCALE=10 runs 135,000 cases).
const SEED = Number(process.env.GW_TRANSFORM_SEED ?? 20261123);
const SCALE = Number(process.env.GW_TRANSFORM_SCALE ?? 1);

// Keys from a small alphabet so that config paths hit document keys (and duplicates happen),
// with the hard cases mixed in: integer-like keys, escapes, non-ASCII, astral, empty.
const KEYS = [
  'a',
  'b',
  'c',
  'd',
  'id',
  'data',
  'items',
  '0',
  '1',
  '10',
  '01',
  'é',
  '😀',
  'q"t',
  'b\\s',
  'n\nl',
  '',
  '*',
  'x.y',
];
const keyArb = fc.constantFrom(...KEYS);

// Number tokens kept as text: the WASM path copies them byte for byte.
const numberArb = fc.oneof(
  fc.integer({ min: -1e6, max: 1e6 }).map(String),
  fc.double({ noNaN: true, noDefaultInfinity: true }).map((d) => JSON.stringify(d)),
  fc.constantFrom(
    '0',
    '-0',
    '1.0',
    '1.50',
    '1e2',
    '1E+2',
    '-2.5e-3',
    '12345678901234567890',
    '0.1e1',
    '1e400',
    '-1e-400',
  ),
);
const stringArb = fc.oneof(
  fc.string({ maxLength: 12 }),
  fc.string({ unit: 'binary', maxLength: 8 }),
  fc.constantFrom('', 'é', '😀', '\u2028', '\ud800', 'a"b', 'back\\', '/path/', '\u0000\u001f'),
);

const { value: valueArb } = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.record({ t: fc.constant('num'), v: numberArb }),
    fc.record({ t: fc.constant('str'), v: stringArb }),
    fc.record({ t: fc.constant('lit'), v: fc.constantFrom('true', 'false', 'null') }),
    tie('object'),
    tie('array'),
  ),
  object: fc.record({ t: fc.constant('obj'), v: fc.array(fc.tuple(keyArb, tie('value')), { maxLength: 6 }) }),
  array: fc.record({ t: fc.constant('arr'), v: fc.array(tie('value'), { maxLength: 5 }) }),
}));
const objectDocArb = fc.record({
  t: fc.constant('obj'),
  v: fc.array(fc.tuple(keyArb, valueArb), { maxLength: 8 }),
});
const arrayDocArb = fc.record({ t: fc.constant('arr'), v: fc.array(valueArb, { maxLength: 6 }) });

/** A tiny PRNG so that a seed picks the spelling (whitespace, escapes) of a document. */
function prng(seed) {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s / 4294967296;
  };
}

const WS = [' ', '\n', '\t', '\r', '  \n  '];

function spellString(str, rnd, escapeRate) {
  if (escapeRate === 0) return JSON.stringify(str);
  let out = '"';
  for (const ch of JSON.stringify(str)
    .slice(1, -1)
    .match(/\\u[0-9a-f]{4}|\\.|[\s\S]/gu) ?? []) {
    if (ch.length === 1 && rnd() < escapeRate) {
      if (ch === '/') out += '\\/';
      else for (let i = 0; i < ch.length; i++) out += `\\u${ch.charCodeAt(i).toString(16).padStart(4, '0')}`;
    } else if (ch.length === 2 && ch.codePointAt(0) > 0xffff && rnd() < escapeRate) {
      out += `\\u${ch.charCodeAt(0).toString(16).toUpperCase()}\\u${ch.charCodeAt(1).toString(16)}`;
    } else {
      out += ch;
    }
  }
  return `${out}"`;
}

/** Serialises a generated tree; `style` decides whitespace and escapes. */
function spell(node, style) {
  const rnd = prng(style);
  const wsRate = (style & 3) === 0 ? 0.5 : 0;
  const escapeRate = (style & 12) === 0 ? 0.3 : 0;
  const ws = () => (wsRate && rnd() < wsRate ? WS[Math.floor(rnd() * WS.length)] : '');
  const go = (n) => {
    switch (n.t) {
      case 'num':
      case 'lit':
        return n.v;
      case 'str':
        return spellString(n.v, rnd, escapeRate);
      case 'arr':
        return `[${ws()}${n.v.map((v) => `${ws()}${go(v)}${ws()}`).join(',')}${ws()}]`;
      default:
        return `{${ws()}${n.v.map(([k, v]) => `${ws()}${spellString(k, rnd, escapeRate)}${ws()}:${ws()}${go(v)}${ws()}`).join(',')}${ws()}}`;
    }
  };
  return `${ws()}${go(node)}${ws()}`;
}

// Config paths over the same alphabet.
const segArb = fc.constantFrom(
  'a',
  'b',
  'c',
  'd',
  'id',
  'data',
  'items',
  '0',
  '1',
  '01',
  'é',
  '😀',
  'q"t',
  '',
);
const pathArb = fc.array(segArb, { minLength: 1, maxLength: 3 }).map((s) => s.join('.'));
const fmSegArb = fc.oneof(segArb, fc.constant('*'), fc.constant('*'), fc.constantFrom('collection', '2'));
const fmPathArb = fc.array(fmSegArb, { minLength: 1, maxLength: 4 }).map((s) => s.join('.'));
const movePairArb = fc.oneof(
  fc.tuple(fmPathArb, fmPathArb),
  // paths sharing a base, as real configs write them ("a.*.b" → "a.*.c")
  fc
    .tuple(
      fc.array(fmSegArb, { maxLength: 3 }),
      fc.array(segArb, { minLength: 1, maxLength: 2 }),
      fc.array(segArb, { minLength: 1, maxLength: 2 }),
    )
    .map(([base, s, d]) => [[...base, ...s].join('.'), [...base, ...d].join('.')]),
);
const flatmapOpArb = fc.oneof(
  movePairArb.map((args) => ({ type: 'move', args })),
  movePairArb.map((args) => ({ type: 'append', args })),
  fc.array(fmPathArb, { minLength: 1, maxLength: 2 }).map((args) => ({ type: 'del', args })),
);
const flatmapArb = fc.array(flatmapOpArb, { minLength: 1, maxLength: 4 });

const backendArb = fc.record(
  {
    target: fc.oneof(segArb, pathArb),
    allow: fc.array(pathArb, { minLength: 1, maxLength: 4 }),
    deny: fc.array(pathArb, { minLength: 1, maxLength: 4 }),
    mapping: fc.dictionary(
      fc.oneof(segArb, pathArb, fc.constant('collection')),
      fc.oneof(segArb, fc.constant('x.y')),
      {
        minKeys: 1,
        maxKeys: 3,
      },
    ),
    group: fc.constantFrom('g', 'a', 'last_post', '0', 'é'),
    flatmap: flatmapArb,
    isCollection: fc.boolean(),
  },
  { requiredKeys: [] },
);

const caseArb = fc
  .record({
    backends: fc.array(backendArb, { minLength: 1, maxLength: 3 }),
    endpointFlatmap: fc.option(flatmapArb, { freq: 3, nil: undefined }),
    order: fc.array(fc.nat(), { minLength: 3, maxLength: 3 }),
    style: fc.nat(),
    drop: fc.nat(7),
  })
  .chain((c) =>
    fc
      .tuple(...c.backends.map((b) => (b.isCollection ? arrayDocArb : objectDocArb)))
      .map((docs) => ({ ...c, docs })),
  );

function outcome(fn) {
  try {
    return { out: JSON.stringify(JSON.parse(fn().toString('utf8'))) };
  } catch (err) {
    if (err instanceof TransformInputError) return { error: 'TransformInputError' };
    throw err;
  }
}

const tally = { outputs: 0, refusals: 0 };

function check(plan, parts) {
  const wasm = createWasmEndpointTransform(plan);
  assert.ok(wasm, 'the WASM path takes every plan the generator makes');
  const js = jsEndpointTransform(plan);
  const want = outcome(() => js.run(parts));
  const got = outcome(() => wasm.run(parts));
  assert.deepEqual(got, want);
  if (want.error) tally.refusals++;
  else tally.outputs++;
}

/** Checks that a run of cases really exercised the WASM path (and not only its JS fallback). */
function assertExercised(t, before, { minOutputs, maxFallbackShare }) {
  const after = wasmTransformStats();
  const runs = after.runs - before.stats.runs;
  const fallbacks = after.fallbacks - before.stats.fallbacks;
  const outputs = tally.outputs - before.outputs;
  const refusals = tally.refusals - before.refusals;
  t.diagnostic(
    `${runs} WASM runs: ${outputs} outputs, ${refusals} refusals, ${fallbacks} answered by the JS fallback`,
  );
  assert.ok(outputs >= minOutputs, `at least ${minOutputs} cases produce output (got ${outputs})`);
  assert.ok(fallbacks <= runs * maxFallbackShare, `fallbacks ${fallbacks} of ${runs}`);
}

function snapshot() {
  return { stats: wasmTransformStats(), outputs: tally.outputs, refusals: tally.refusals };
}

function partsOf(c) {
  // arrival order: a permutation of the backends, some of which may not answer
  const idx = c.backends.map((_, i) => i);
  idx.sort((x, y) => (c.order[x % 3] ^ (x * 31)) - (c.order[y % 3] ^ (y * 31)));
  const kept = idx.filter((i, k) => k === 0 || !(c.drop & (1 << i)));
  return kept.map((i) => ({ index: i, body: Buffer.from(spell(c.docs[i], c.style + i), 'utf8') }));
}

test('differential: generated documents × manipulation plans (6,000 cases)', (t) => {
  const before = snapshot();
  fc.assert(
    fc.property(caseArb, (c) => {
      check({ backends: c.backends, endpointFlatmap: c.endpointFlatmap }, partsOf(c));
    }),
    { seed: SEED, numRuns: 6000 * SCALE },
  );
  assertExercised(t, before, { minOutputs: 5000, maxFallbackShare: 0.1 });
});

test('differential: flatmap-heavy plans over collections and nested arrays (2,500 cases)', (t) => {
  const before = snapshot();
  const nestedDoc = fc.record({
    t: fc.constant('obj'),
    v: fc.array(
      fc.tuple(
        fc.constantFrom('a', 'b', 'collection', 'items', 'data'),
        fc.oneof(arrayDocArb, objectDocArb, valueArb),
      ),
      { maxLength: 5 },
    ),
  });
  fc.assert(
    fc.property(
      nestedDoc,
      flatmapArb,
      fc.option(flatmapArb, { nil: undefined }),
      fc.nat(),
      (doc, fm, efm, style) => {
        const plan = { backends: [{ flatmap: fm }, { group: 'g', flatmap: fm }], endpointFlatmap: efm };
        const body = Buffer.from(spell(doc, style), 'utf8');
        check(plan, [
          { index: 0, body },
          { index: 1, body },
        ]);
      },
    ),
    { seed: SEED + 1, numRuns: 2500 * SCALE },
  );
  assertExercised(t, before, { minOutputs: 2000, maxFallbackShare: 0.1 });
});

test('differential: allow / deny / mapping on a dense key space (1,500 cases)', (t) => {
  const before = snapshot();
  const small = fc.constantFrom('a', 'b', 'c', '0', '1');
  const smallPath = fc.array(small, { minLength: 1, maxLength: 3 }).map((s) => s.join('.'));
  const { doc } = fc.letrec((tie) => ({
    doc: fc.record({ t: fc.constant('obj'), v: fc.array(fc.tuple(small, tie('val')), { maxLength: 6 }) }),
    val: fc.oneof(
      { depthSize: 'small' },
      fc.record({ t: fc.constant('num'), v: fc.constantFrom('1', '2.0', '-3e1') }),
      tie('doc'),
    ),
  }));
  const manip = fc.record(
    {
      allow: fc.array(smallPath, { minLength: 1, maxLength: 3 }),
      deny: fc.array(smallPath, { minLength: 1, maxLength: 3 }),
      mapping: fc.dictionary(small, small, { minKeys: 1, maxKeys: 4 }),
      group: small,
      target: small,
    },
    { requiredKeys: ['mapping'] },
  );
  fc.assert(
    fc.property(
      fc.array(manip, { minLength: 1, maxLength: 3 }),
      fc.array(doc, { minLength: 3, maxLength: 3 }),
      fc.nat(),
      (backends, docs, style) => {
        const parts = backends.map((_, i) => ({
          index: i,
          body: Buffer.from(spell(docs[i], style + i), 'utf8'),
        }));
        check({ backends }, parts.reverse());
      },
    ),
    { seed: SEED + 4, numRuns: 1500 * SCALE },
  );
  assertExercised(t, before, { minOutputs: 1500, maxFallbackShare: 0 });
});

test('differential: corrupted documents are refused by both paths or read alike (2,500 cases)', (t) => {
  const before = snapshot();
  const mutation = fc.record({
    at: fc.nat(),
    kind: fc.nat(5),
    ch: fc.constantFrom(
      '{',
      '}',
      '[',
      ']',
      ',',
      ':',
      '"',
      '\\',
      '0',
      '-',
      'e',
      '.',
      ' ',
      'x',
      '\u0001',
      '\u00e9',
    ),
  });
  fc.assert(
    fc.property(
      objectDocArb,
      fc.nat(),
      fc.array(mutation, { minLength: 1, maxLength: 3 }),
      (doc, style, muts) => {
        let text = spell(doc, style);
        for (const m of muts) {
          const at = text.length === 0 ? 0 : m.at % (text.length + 1);
          if (m.kind === 0) text = text.slice(0, at) + text.slice(at + 1);
          else if (m.kind === 1) text = text.slice(0, at);
          else text = text.slice(0, at) + m.ch + text.slice(at);
        }
        check({ backends: [{ allow: ['a', 'b.c', 'id'] }] }, [{ index: 0, body: Buffer.from(text, 'utf8') }]);
        check({ backends: [{}] }, [{ index: 0, body: Buffer.from(text, 'utf8') }]);
      },
    ),
    { seed: SEED + 2, numRuns: 2500 * SCALE },
  );
  assertExercised(t, before, { minOutputs: 300, maxFallbackShare: 0.1 });
});

test('differential: raw byte noise, invalid UTF-8 included (1,000 cases)', (t) => {
  const before = snapshot();
  const bytesArb = fc.uint8Array({ maxLength: 40 });
  fc.assert(
    fc.property(objectDocArb, bytesArb, fc.nat(), (doc, noise, at) => {
      const text = Buffer.from(spell(doc, 0), 'utf8');
      const pos = at % (text.length + 1);
      // inside the document: mostly syntax errors; inside a string value: invalid UTF-8
      const body = Buffer.concat([text.subarray(0, pos), Buffer.from(noise), text.subarray(pos)]);
      check({ backends: [{ deny: ['a'] }] }, [{ index: 0, body }]);
      const inString = Buffer.concat([
        Buffer.from('{"a":"'),
        Buffer.from(noise.filter((b) => b !== 0x22 && b !== 0x5c && b >= 0x20)),
        Buffer.from('","b":1}'),
      ]);
      check({ backends: [{ mapping: { a: 'z' } }] }, [{ index: 0, body: inString }]);
    }),
    { seed: SEED + 3, numRuns: 1000 * SCALE },
  );
  assertExercised(t, before, { minOutputs: 900, maxFallbackShare: 0.9 });
});
