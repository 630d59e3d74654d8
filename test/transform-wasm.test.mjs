// The WASM transform path: the docs' examples as fixed cases, the RFC 8259 reader/writer edge
// cases, input errors, depth bound, memory reuse. Every case runs both paths (WASM and the JS
// reference path) and compares them; docs cases also compare with the output the docs show.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  createWasmEndpointTransform,
  jsEndpointTransform,
  MAX_DEPTH,
  TransformInputError,
  wasmTransformStats,
} from '../dist/transform/wasm/index.js';
import { transformModule } from '../dist/transform/wasm/runtime.js';
import { DOCS_USER } from './fixtures/docs-user.mjs';

const body = (v) => Buffer.from(typeof v === 'string' ? v : JSON.stringify(v), 'utf8');

/** Runs both paths; returns the WASM output bytes after asserting JSON equality with the JS path. */
function both(plan, bodies) {
  const parts = bodies.map((b, index) => ({ index, body: body(b) }));
  const wasm = createWasmEndpointTransform(plan);
  assert.ok(wasm, 'WASM path available for this plan');
  const js = jsEndpointTransform(plan);
  const w = wasm.run(parts);
  const j = js.run(parts);
  assert.equal(JSON.stringify(JSON.parse(w.toString())), JSON.stringify(JSON.parse(j.toString())));
  return w;
}

function expectDocs(plan, bodies, expected) {
  const out = both(plan, bodies);
  assert.deepEqual(JSON.parse(out.toString()), expected);
  return out;
}

const POST = {
  userId: 1,
  id: 1,
  title: 'sunt aut facere repellat provident occaecati excepturi optio reprehenderit',
  body: 'quia et suscipit\nsuscipit recusandae consequuntur expedita et cum\nreprehenderit molestiae ut ut quas totam\nnostrum rerum est autem sunt rem eveniet architecto',
};
const USER = DOCS_USER;

test('docs, Data Manipulation: deny list example', () => {
  expectDocs({ backends: [{ deny: ['body', 'userId'] }] }, [POST], { id: 1, title: POST.title });
});

test('docs, Data Manipulation: allow list example', () => {
  expectDocs({ backends: [{ allow: ['id', 'title'] }] }, [POST], { id: 1, title: POST.title });
});

test('docs: nested allow/deny with the dot operator, objects only (not arrays)', () => {
  expectDocs({ backends: [{ allow: ['a.a1'] }] }, [{ a: { a1: 1, a2: 2 }, b: 3 }], { a: { a1: 1 } });
  expectDocs({ backends: [{ deny: ['a.a1'] }] }, [{ a: { a1: 1, a2: 2 }, b: 3 }], { a: { a2: 2 }, b: 3 });
  // `{ "a": [ { "a1": 1 } ] }` does not work as `a.a1`
  expectDocs({ backends: [{ deny: ['a.a1'] }] }, [{ a: [{ a1: 1 }] }], { a: [{ a1: 1 }] });
  expectDocs({ backends: [{ allow: ['a.a1'] }] }, [{ a: [{ a1: 1 }] }], {});
});

test('docs, Data Manipulation: grouping example (two backends, one grouped)', () => {
  const out = expectDocs({ backends: [{}, { group: 'last_post' }] }, [USER, POST], {
    ...USER,
    last_post: POST,
  });
  // key order: the first backend's keys, then the group
  assert.deepEqual(Object.keys(JSON.parse(out.toString())), [...Object.keys(USER), 'last_post']);
});

test('docs, Data Manipulation: mapping example (email → personal_email keeps its place)', () => {
  const out = expectDocs(
    { backends: [{ mapping: { email: 'personal_email' } }] },
    [USER],
    (() => {
      const { email, ...rest } = USER;
      return { ...rest, personal_email: email };
    })(),
  );
  assert.deepEqual(Object.keys(JSON.parse(out.toString())).slice(0, 5), [
    'id',
    'name',
    'username',
    'personal_email',
    'address',
  ]);
});

test('docs, Data Manipulation: target example', () => {
  const data = {
    updated: '2010-01-07T19:58:42.949Z',
    totalItems: 800,
    startIndex: 1,
    itemsPerPage: 1,
    items: [],
  };
  const out = expectDocs({ backends: [{ target: 'data' }] }, [{ apiVersion: '2.0', data }], data);
  assert.equal(out.toString(), JSON.stringify(data));
});

test('docs, Data Manipulation: collections (is_collection, mapping collection → myposts)', () => {
  const posts = [{ a: true }, { b: false }];
  expectDocs({ backends: [{ isCollection: true }] }, [posts], { collection: posts });
  expectDocs({ backends: [{ isCollection: true, mapping: { collection: 'myposts' } }] }, [posts], {
    myposts: posts,
  });
});

test('docs, Data Manipulation / Array manipulation: extract fields with flatmap', () => {
  expectDocs(
    {
      backends: [
        {
          flatmap: [
            { type: 'move', args: ['zone.state', 'shipping_state'] },
            { type: 'move', args: ['zone.zip', 'shipping_zip'] },
            { type: 'del', args: ['zone'] },
          ],
        },
      ],
    },
    [{ shipping_id: 'f15f8c62-8c63-46de-a7f6-a08f131848c5', zone: { state: 'NY', zip: '10001' } }],
    { shipping_id: 'f15f8c62-8c63-46de-a7f6-a08f131848c5', shipping_state: 'NY', shipping_zip: '10001' },
  );
});

test('docs, Array manipulation: moving around data in arrays (kindergarten + schools)', () => {
  expectDocs(
    {
      backends: [
        {
          flatmap: [
            { type: 'del', args: ['kindergarten.0'] },
            { type: 'move', args: ['schools.*.title', 'schools.*.name'] },
            { type: 'append', args: ['kindergarten', 'schools'] },
          ],
        },
      ],
    },
    [
      {
        kindergarten: [{ name: 'TEST Kinder' }, { name: "Lil' Elephants" }, { name: 'Bright Rainbows' }],
        schools: [{ title: 'Brookside Elementary' }, { title: 'Oak Tree School' }],
      },
    ],
    // The destination's items first: krakend/flatmap tree/tree.go, Tree.Append (the docs' example
    // output shows the other order; the source decides).
    {
      schools: [
        { name: 'Brookside Elementary' },
        { name: 'Oak Tree School' },
        { name: "Lil' Elephants" },
        { name: 'Bright Rainbows' },
      ],
    },
  );
});

const NOTATION = {
  a: [
    {
      b1: [
        { c: 1, d: 'foo' },
        { c: 2, d: 'bar' },
      ],
      b2: true,
    },
    { b1: [{ c: 3, d: 'vaz' }] },
  ],
};

test('docs, Array manipulation: the notation table operations (both paths agree; "Yes" rows do what they say)', () => {
  const rows = [
    ['a.*.b1.*.c', 'a.*.b1.*.d'],
    ['a.*.b1.*.c', 'a.*.c'],
    ['a.b1.c', 'c'],
    ['a.0.b1.0.c', 'c'],
    ['a.*.b1.c', 'c'],
    ['a.*.b1.c', 'a.*.b1.*.d.*.e'],
    ['a.*.b1.*.c', 'a.*.b1.*.c.d.e.f.g'],
    ['a.*.b1.*.c', 'a.*.x.*.c'],
    ['a.*.b1.*.c', 'a.*.x.*.c.d.e.f.g'],
    ['a.*.b1.*.c', 'a.*.b1.*.d.*.e'],
  ];
  const outs = rows.map(([from, to]) =>
    JSON.parse(
      both({ backends: [{ flatmap: [{ type: 'move', args: [from, to] }] }] }, [NOTATION]).toString(),
    ),
  );
  // Rename c to d
  assert.deepEqual(outs[0].a[0].b1[0], { d: 1 });
  assert.deepEqual(outs[0].a[1].b1[0], { d: 3 });
  // Extract only c from the first and first items
  assert.equal(outs[3].c, 1);
  assert.deepEqual(outs[3].a[0].b1[0], { d: 'foo' });
  // Add additional levels
  assert.deepEqual(outs[6].a[0].b1[1], { c: { d: { e: { f: { g: 2 } } } }, d: 'bar' });
  // Missing array after `a`: nothing happens
  assert.deepEqual(outs[2], NOTATION);
  // wildcard in the part the paths do not share: nothing happens
  assert.deepEqual(outs[9], NOTATION);
});

test('docs, Array manipulation: del with wildcards and an endpoint-level flatmap after the merge', () => {
  expectDocs({ backends: [{ flatmap: [{ type: 'del', args: ['a.*.b1.*.d', 'a.1'] }] }] }, [NOTATION], {
    a: [{ b1: [{ c: 1 }, { c: 2 }], b2: true }],
  });
  expectDocs(
    {
      backends: [{ group: 'u' }, { isCollection: true, group: 'p' }],
      endpointFlatmap: [
        { type: 'move', args: ['u.name', 'name'] },
        { type: 'del', args: ['u', 'p.collection.*.body'] },
      ],
    },
    [USER, [POST, POST]],
    {
      p: {
        collection: [
          { userId: 1, id: 1, title: POST.title },
          { userId: 1, id: 1, title: POST.title },
        ],
      },
      name: 'Leanne Graham',
    },
  );
});

test('reader: escapes, \\u with surrogate pairs in keys and values', () => {
  const text =
    '{"\\ud83d\\ude00":"smile \\u00e9\\n\\t\\"\\\\\\/","caf\\u00e9":1,"plain":"é😀","lone":"\\ud800x"}';
  const out = both({ backends: [{ allow: ['😀', 'café', 'lone'] }] }, [text]);
  const v = JSON.parse(out.toString());
  assert.deepEqual(Object.keys(v), ['😀', 'café', 'lone']);
  assert.equal(v['😀'], 'smile é\n\t"\\/');
  assert.equal(v.lone, '\ud800x');
  // values are copied as the backend wrote them
  assert.ok(out.toString().includes('"smile \\u00e9\\n\\t\\"\\\\\\/"'));
  // mapping to a key that needs escaping writes it escaped
  const m = both({ backends: [{ mapping: { plain: 'q"u\\o\nte' } }] }, [text]);
  assert.equal(JSON.parse(m.toString())['q"u\\o\nte'], 'é😀');
});

test('reader: numbers are kept byte-exact (where JS would rewrite them)', () => {
  const text = '{"a":1.50,"b":12345678901234567890,"c":-0,"d":1E+2,"e":0.1e-7,"f":-2.5e-3,"g":1e400}';
  const out = both({ backends: [{ deny: ['x'] }] }, [text]).toString();
  assert.equal(out, text);
  const js = jsEndpointTransform({ backends: [{ deny: ['x'] }] })
    .run([{ index: 0, body: body(text) }])
    .toString();
  assert.equal(js, '{"a":1.5,"b":12345678901234567000,"c":0,"d":100,"e":1e-8,"f":-0.0025,"g":null}');
});

test('reader: duplicate keys: the last value wins at the first position, as JSON.parse does', () => {
  const text = '{"a":1,"b":2,"a":3,"c":{"x":1,"x":2}}';
  const out = both({ backends: [{ allow: ['a', 'b', 'c.x'] }] }, [text]);
  assert.equal(out.toString(), '{"a":3,"b":2,"c":{"x":2}}');
  both({ backends: [{ mapping: { a: 'z' } }] }, [text]);
  both({ backends: [{}, { group: 'g' }] }, [text, text]);
});

test('reader: whitespace between tokens is removed, whitespace in strings kept', () => {
  const text = ' \n{ "a" : [ 1 , 2 ,{ "s":" x  y " } ] ,\r\n\t"b":{ } }\n ';
  assert.equal(
    both({ backends: [{ deny: ['zz'] }] }, [text]).toString(),
    '{"a":[1,2,{"s":" x  y "}],"b":{}}',
  );
});

test('reader: integer-like keys come first, as JS objects order them', () => {
  const out = both({ backends: [{ mapping: { b: '2' } }, { group: '0' }] }, [
    '{"b":1,"1":2,"x":3}',
    '{"k":1}',
  ]);
  assert.equal(out.toString(), '{"0":{"k":1},"1":2,"2":1,"x":3}');
});

test('invalid JSON gives TransformInputError on both paths, with the backend index', () => {
  const bad = [
    '{',
    '{"a":1,}',
    '{"a":01}',
    '{"a":1.}',
    '{"a":-}',
    '{"a":.5}',
    '{"a":"\\x"}',
    '{"a":"\\u12G4"}',
    '{"a":"tab\there"}',
    '{"a":tru}',
    '{"a":1} x',
    '{"a":1}{"b":2}',
    "{'a':1}",
    '{a:1}',
    '[1,2',
    '\ufeff{}',
    '{"a":NaN}',
    '{"a":Infinity}',
    '{"a":[1,]}',
    '{"a" 1}',
    ' ',
  ];
  const plan = { backends: [{ allow: ['a'] }, {}] };
  const wasm = createWasmEndpointTransform(plan);
  const js = jsEndpointTransform(plan);
  for (const text of bad) {
    for (const t of [wasm, js]) {
      assert.throws(
        () =>
          t.run([
            { index: 1, body: body('{"ok":true}') },
            { index: 0, body: Buffer.from(text) },
          ]),
        (err) => err instanceof TransformInputError && err.backendIndex === 0,
        `${JSON.stringify(text)} on the ${t === wasm ? 'WASM' : 'JS'} path`,
      );
    }
  }
  // the module keeps working after errors
  assert.equal(wasm.run([{ index: 0, body: body({ a: 1, b: 2 }) }]).toString(), '{"a":1}');
});

test('a body that is not the object (or the is_collection array) the backend must return is refused', () => {
  for (const [plan, text] of [
    [{ backends: [{}] }, '[1,2]'],
    [{ backends: [{}] }, '"text"'],
    [{ backends: [{}] }, 'null'],
    [{ backends: [{ isCollection: true }] }, '{"a":1}'],
    [{ backends: [{ isCollection: true }] }, '42'],
  ]) {
    for (const t of [createWasmEndpointTransform(plan), jsEndpointTransform(plan)]) {
      assert.throws(() => t.run([{ index: 0, body: body(text) }]), TransformInputError);
    }
  }
  // an empty body counts as {}
  assert.equal(both({ backends: [{}, { group: 'g' }] }, ['', '']).toString(), '{"g":{}}');
});

test(`nesting: ${MAX_DEPTH} levels are read, ${MAX_DEPTH + 1} are refused on both paths`, () => {
  const nest = (depth) => `{"a":${'['.repeat(depth - 1)}1${']'.repeat(depth - 1)}}`;
  const plan = { backends: [{ allow: ['a'] }] };
  both(plan, [nest(MAX_DEPTH)]);
  for (const t of [createWasmEndpointTransform(plan), jsEndpointTransform(plan)]) {
    assert.throws(() => t.run([{ index: 0, body: body(nest(MAX_DEPTH + 1)) }]), TransformInputError);
    assert.throws(() => t.run([{ index: 0, body: body(`{"a":${'['.repeat(100000)}`) }]), TransformInputError);
  }
});

test('invalid UTF-8 inside strings: the JS path answers, with its exact bytes', () => {
  const text = Buffer.concat([
    Buffer.from('{"a":"x'),
    Buffer.from([0xff, 0xc3, 0x28, 0xed, 0xa0, 0x80]),
    Buffer.from('y","b":1}'),
  ]);
  const plan = { backends: [{ mapping: { a: 'z' } }] };
  const before = wasmTransformStats();
  const w = createWasmEndpointTransform(plan).run([{ index: 0, body: text }]);
  const j = jsEndpointTransform(plan).run([{ index: 0, body: text }]);
  assert.deepEqual(w, j);
  assert.equal(wasmTransformStats().fallbacks, before.fallbacks + 1);
});

test('`__proto__` keys stay plain data on both paths', () => {
  const text = '{"__proto__":{"polluted":true},"a":1}';
  const out = both({ backends: [{ mapping: { a: 'b' } }, { group: 'g' }] }, [text, text]);
  const g = JSON.parse(out.toString()).g;
  assert.deepEqual(Object.getOwnPropertyDescriptor(g, '__proto__')?.value, { polluted: true });
  assert.equal({}.polluted, undefined);
});

test('memory: the arena is reused, memory does not grow over 1,000,000 requests', () => {
  const plan = { backends: [{ allow: ['id', 'name', 'address.city'] }, { group: 'g', deny: ['x'] }] };
  const wasm = createWasmEndpointTransform(plan);
  const parts = [
    { index: 0, body: body(USER) },
    { index: 1, body: body(POST) },
  ];
  const expected = jsEndpointTransform(plan).run(parts);
  for (let i = 0; i < 1000; i++) wasm.run(parts);
  const memory = transformModule().memory;
  const size = memory.buffer.byteLength;
  for (let i = 0; i < 1_000_000; i++) wasm.run(parts);
  assert.equal(memory.buffer.byteLength, size);
  assert.equal(JSON.stringify(JSON.parse(wasm.run(parts).toString())), expected.toString());
  // a large body grows memory once; the same size again does not grow it further
  const big = body({ items: Array.from({ length: 20000 }, (_, i) => ({ i, s: 'x'.repeat(20) })) });
  wasm.run([{ index: 0, body: big }]);
  const bigSize = memory.buffer.byteLength;
  for (let i = 0; i < 20; i++) wasm.run([{ index: 0, body: big }]);
  assert.equal(memory.buffer.byteLength, bigSize);
});

test('several plans share one module instance per thread', () => {
  const a = createWasmEndpointTransform({ backends: [{ allow: ['id'] }] });
  const b = createWasmEndpointTransform({ backends: [{ group: 'x' }] });
  const parts = [{ index: 0, body: body({ id: 7, y: 1 }) }];
  for (let i = 0; i < 3; i++) {
    assert.equal(a.run(parts).toString(), '{"id":7}');
    assert.equal(b.run(parts).toString(), '{"x":{"id":7,"y":1}}');
  }
});

test('wide objects: 100,000 keys with duplicates, merged and renamed, stay linear', () => {
  const keys = Array.from({ length: 100_000 }, (_, i) => `key${i}`);
  const wide = `{${keys.map((k, i) => `"${k}":${i}`).join(',')},"key5":"dup"}`;
  const plan = { backends: [{ mapping: { key7: 'renamed' } }, { deny: ['key9'] }] };
  const out = both(plan, [wide, wide]);
  const v = JSON.parse(out.toString());
  assert.equal(v.key5, 'dup');
  assert.equal(v.renamed, 7);
  assert.equal(Object.keys(v).length, 100_001);
});
