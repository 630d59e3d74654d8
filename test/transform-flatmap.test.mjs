// flatmap_filter (move / del / append with indexes and wildcards): every example of the docs'
// "Array manipulation" page, edge cases, purity, and the config checks.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  compileBackendManipulation,
  compileFlatmap,
  flatmapFromExtraConfig,
  lintFlatmap,
  manipulationFromBackend,
  mergeInto,
  splitMovePaths,
  splitPath,
  validateFlatmap,
} from '../dist/transform/index.js';

function frozen(v) {
  if (typeof v === 'object' && v !== null) {
    for (const k of Object.keys(v)) frozen(v[k]);
    Object.freeze(v);
  }
  return v;
}

/** Runs flatmap ops on a deep-frozen copy of `input` (a mutation would throw). */
function fm(ops, input) {
  return compileFlatmap(ops)(frozen(structuredClone(input)));
}
const move = (from, to) => ({ type: 'move', args: [from, to] });
const del = (...paths) => ({ type: 'del', args: paths });
const append = (from, to) => ({ type: 'append', args: [from, to] });

// The docs' notation structure.
const sample = {
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

describe('docs: notation by example', () => {
  test('a.1 is the second object of a', () => {
    assert.deepEqual(fm([move('a.1', 'x')], sample).x, { b1: [{ c: 3, d: 'vaz' }] });
  });
  test('a.0.b1.0.d is foo, a.1.b1.0.d is vaz', () => {
    assert.equal(fm([move('a.0.b1.0.d', 'x')], sample).x, 'foo');
    assert.equal(fm([move('a.1.b1.0.d', 'x')], sample).x, 'vaz');
  });
  test('a.*.b1.*.d matches foo, bar, vaz', () => {
    const out = fm([del('a.*.b1.*.d')], sample);
    assert.deepEqual(out, { a: [{ b1: [{ c: 1 }, { c: 2 }], b2: true }, { b1: [{ c: 3 }] }] });
  });
  test('a.*.*.*.d matches the same three (the wildcard also matches object keys)', () => {
    assert.deepEqual(fm([del('a.*.*.*.d')], sample), fm([del('a.*.b1.*.d')], sample));
  });
  test('"deletion of a.b.c deletes c but leaves a.b"', () => {
    assert.deepEqual(fm([del('a.b.c')], { a: { b: { c: 1 } } }), { a: { b: {} } });
  });
});

describe('docs: practical examples table (on the notation structure)', () => {
  test('Yes: a.*.b1.*.c → a.*.b1.*.d renames c to d (overwriting d)', () => {
    assert.deepEqual(fm([move('a.*.b1.*.c', 'a.*.b1.*.d')], sample), {
      a: [{ b1: [{ d: 1 }, { d: 2 }], b2: true }, { b1: [{ d: 3 }] }],
    });
  });
  test('Yes: a.0.b1.0.c → c extracts only the first c', () => {
    const out = fm([move('a.0.b1.0.c', 'c')], sample);
    assert.equal(out.c, 1);
    assert.deepEqual(out.a[0].b1, [{ d: 'foo' }, { c: 2, d: 'bar' }]);
    assert.deepEqual(out.a[1], sample.a[1]);
  });
  test('Yes: a.*.b1.*.c → a.*.b1.*.c.d.e.f.g adds levels', () => {
    assert.deepEqual(fm([move('a.*.b1.*.c', 'a.*.b1.*.c.d.e.f.g')], sample), {
      a: [
        {
          b1: [
            { d: 'foo', c: { d: { e: { f: { g: 1 } } } } },
            { d: 'bar', c: { d: { e: { f: { g: 2 } } } } },
          ],
          b2: true,
        },
        { b1: [{ d: 'vaz', c: { d: { e: { f: { g: 3 } } } } }] },
      ],
    });
  });
  const noCases = [
    ['a.*.b1.*.c', 'a.*.c', 'missing level'],
    ['a.b1.c', 'c', 'missing array after a'],
    ['a.*.b1.c', 'c', 'b1 has an array surrounding c'],
    ['a.*.b1.c', 'a.*.b1.*.d.*.e', 'b1 has an array surrounding c'],
    ['a.*.b1.*.c', 'a.*.x.*.c', 'renaming an element not in the last position'],
    ['a.*.b1.*.c', 'a.*.x.*.c.d.e.f.g', 'renaming an element not in the last position'],
    ['a.*.b1.*.c', 'a.*.b1.*.d.*.e', 'destination has more wildcards'],
  ];
  for (const [from, to, why] of noCases) {
    test(`No: ${from} → ${to} (${why}) leaves the data unchanged`, () => {
      const input = frozen(structuredClone(sample));
      const out = compileFlatmap([move(from, to)])(input);
      assert.deepEqual(out, sample);
      assert.equal(out, input);
    });
  }
  test('lint flags exactly the statically impossible "No" rows', () => {
    const flagged = (from, to) => lintFlatmap([move(from, to)], '$.f').length > 0;
    assert.equal(flagged('a.*.b1.*.c', 'a.*.b1.*.d'), false);
    assert.equal(flagged('a.0.b1.0.c', 'c'), false);
    assert.equal(flagged('a.*.b1.*.c', 'a.*.b1.*.c.d.e.f.g'), false);
    assert.equal(flagged('a.b1.c', 'c'), false, 'only the data can tell');
    for (const [from, to] of noCases.filter(([f]) => f !== 'a.b1.c'))
      assert.equal(flagged(from, to), true, `${from} → ${to}`);
  });
});

describe('docs: configuration examples', () => {
  const shippingOps = [move('zone.state', 'shipping_state'), move('zone.zip', 'shipping_zip'), del('zone')];
  const shipping = {
    shipping_id: 'f15f8c62-8c63-46de-a7f6-a08f131848c5',
    zone: { state: 'NY', zip: '10001' },
  };
  const shippingOut = {
    shipping_id: 'f15f8c62-8c63-46de-a7f6-a08f131848c5',
    shipping_state: 'NY',
    shipping_zip: '10001',
  };

  test('extract objects to another level (shipping)', () => {
    const out = fm(shippingOps, shipping);
    assert.deepEqual(out, shippingOut);
    assert.equal(JSON.stringify(out), JSON.stringify(shippingOut), 'key order as the docs show');
  });

  test('same example as a backend extra_config (Data Manipulation page)', () => {
    const backend = { url_pattern: '/shipping', extra_config: { proxy: { flatmap_filter: shippingOps } } };
    const t = compileBackendManipulation(manipulationFromBackend(backend));
    assert.deepEqual(t(frozen(structuredClone(shipping))), shippingOut);
  });

  test('moving around data in arrays (kindergarten + schools)', () => {
    const input = {
      kindergarten: [{ name: 'TEST Kinder' }, { name: "Lil' Elephants" }, { name: 'Bright Rainbows' }],
      schools: [{ title: 'Brookside Elementary' }, { title: 'Oak Tree School' }],
    };
    const ops = [
      del('kindergarten.0'),
      move('schools.*.title', 'schools.*.name'),
      append('kindergarten', 'schools'),
    ];
    const out = fm(ops, input);
    assert.equal(
      JSON.stringify(out),
      // The destination's items first (krakend/flatmap tree/tree.go, Tree.Append); the docs'
      // example output lists them the other way round, the source decides.
      JSON.stringify({
        schools: [
          { name: 'Brookside Elementary' },
          { name: 'Oak Tree School' },
          { name: "Lil' Elephants" },
          { name: 'Bright Rainbows' },
        ],
      }),
    );
  });

  test('the three-operation skeleton of the config section', () => {
    const ops = [
      move('target_in_collection', 'destination_in_collection'),
      del('target_in_collection'),
      append('collection_to_append', 'returned_collection'),
    ];
    const input = { target_in_collection: [1], collection_to_append: [2], returned_collection: [3] };
    assert.deepEqual(fm(ops, input), { destination_in_collection: [1], returned_collection: [3, 2] });
  });
});

describe('del', () => {
  test('array element: later ones shift down', () => {
    assert.deepEqual(fm([del('a.1')], { a: [0, 1, 2, 3] }), { a: [0, 2, 3] });
  });
  test('several paths run one after the other (indexes shift in between)', () => {
    assert.deepEqual(fm([del('a.0', 'a.1')], { a: ['x', 'y', 'z'] }), { a: ['y'] });
    assert.deepEqual(fm([del('a.2', 'a.0')], { a: ['x', 'y', 'z'] }), { a: ['y'] });
  });
  test('out of range and non-canonical indexes do nothing', () => {
    const input = { a: [0, 1] };
    for (const p of ['a.2', 'a.01', 'a.-1', 'a.1.0', 'a.x', 'a.1e0', 'a. 1'])
      assert.deepEqual(fm([del(p)], input), input, p);
  });
  test('numeric segment on an object is a key', () => {
    assert.deepEqual(fm([del('a.0')], { a: { 0: 'x', 1: 'y' } }), { a: { 1: 'y' } });
  });
  test('x.* empties an array or an object; parents stay', () => {
    assert.deepEqual(fm([del('a.*', 'o.*')], { a: [1, 2], o: { p: 1 }, k: 1 }), { a: [], o: {}, k: 1 });
  });
  test('* alone empties the root', () => {
    assert.deepEqual(fm([del('*')], { a: 1, b: 2 }), {});
  });
  test('wildcard over every element (collection.*.user_id)', () => {
    const input = { collection: [{ id: 1, user_id: 9 }, { id: 2, user_id: 8 }, { id: 3 }] };
    assert.deepEqual(fm([del('collection.*.user_id')], input), {
      collection: [{ id: 1 }, { id: 2 }, { id: 3 }],
    });
  });
  test('wildcard over an empty array returns the input itself', () => {
    const input = frozen({ collection: [] });
    assert.equal(compileFlatmap([del('collection.*.user_id')])(input), input);
  });
  test('wildcard over object keys (*.secret)', () => {
    const input = { u1: { name: 'a', secret: 1 }, u2: { name: 'b', secret: 2 }, n: 5 };
    assert.deepEqual(fm([del('*.secret')], input), { u1: { name: 'a' }, u2: { name: 'b' }, n: 5 });
  });
  test('wildcard skips scalars, nulls and elements without the key', () => {
    const input = { a: [1, null, 'x', { b: 1 }, { c: 1 }, [{ b: 2 }]] };
    assert.deepEqual(fm([del('a.*.b')], input), { a: [1, null, 'x', {}, { c: 1 }, [{ b: 2 }]] });
  });
  test('missing path: input returned as is', () => {
    const input = frozen({ a: { b: 1 } });
    assert.equal(compileFlatmap([del('x.y.z', 'a.b.c', 'a.c')])(input), input);
  });
  test('deep path', () => {
    const input = { a: [{ b: { c: [{ d: { e: [1, { f: 1, g: 2 }] } }] } }] };
    assert.deepEqual(fm([del('a.0.b.c.*.d.e.1.f')], input), {
      a: [{ b: { c: [{ d: { e: [1, { g: 2 }] } }] } }],
    });
  });
});

describe('move', () => {
  test('into a new nested object (created)', () => {
    assert.deepEqual(fm([move('a', 'x.y.z')], { a: 1, b: 2 }), { b: 2, x: { y: { z: 1 } } });
  });
  test('a new key goes last; an existing key keeps its position', () => {
    assert.equal(JSON.stringify(fm([move('a', 'z')], { a: 1, b: 2 })), '{"b":2,"z":1}');
    assert.equal(JSON.stringify(fm([move('c', 'a')], { a: 1, b: 2, c: 3 })), '{"a":3,"b":2}');
  });
  test('missing source: nothing, the destination is not created', () => {
    const input = frozen({ a: 1 });
    assert.equal(compileFlatmap([move('x', 'y')])(input), input);
  });
  test('destination blocked by a scalar: nothing moves, nothing lost', () => {
    const input = { a: 1, s: 'str' };
    assert.deepEqual(fm([move('a', 's.x')], input), input);
  });
  test('destination through an array: index must exist', () => {
    assert.deepEqual(fm([move('v', 'arr.1')], { v: 'new', arr: ['a', 'b'] }), { arr: ['a', 'new'] });
    assert.deepEqual(fm([move('v', 'arr.0.k')], { v: 9, arr: [{}, {}] }), { arr: [{ k: 9 }, {}] });
    const input = { v: 'new', arr: ['a', 'b'] };
    assert.deepEqual(fm([move('v', 'arr.2')], input), input);
    assert.deepEqual(fm([move('v', 'arr.x')], input), input);
  });
  test('numeric segments under a missing key create objects', () => {
    assert.deepEqual(fm([move('v', 'n.0')], { v: 1 }), { n: { 0: 1 } });
  });
  test('moving an array element out removes it from the array', () => {
    assert.deepEqual(fm([move('a.0', 'first')], { a: ['x', 'y'] }), { a: ['y'], first: 'x' });
  });
  test('destination is a parent of the source: the parent is replaced', () => {
    assert.deepEqual(fm([move('a.b', 'a')], { a: { b: { c: 1 }, d: 2 } }), { a: { c: 1 } });
  });
  test('source is a parent of the destination: wraps it', () => {
    assert.deepEqual(fm([move('a', 'a.b')], { a: 1 }), { a: { b: 1 } });
  });
  test('onto itself: nothing', () => {
    const input = frozen({ a: [{ b: 1 }] });
    assert.equal(compileFlatmap([move('a.*.b', 'a.*.b')])(input), input);
  });
  test('wildcard move on an empty array changes nothing', () => {
    const input = frozen({ a: [] });
    assert.equal(compileFlatmap([move('a.*.b', 'a.*.c')])(input), input);
  });
  test('wildcard rename skips elements without the key', () => {
    assert.deepEqual(fm([move('a.*.b', 'a.*.c')], { a: [{ b: 1 }, { x: 2 }, 3] }), {
      a: [{ c: 1 }, { x: 2 }, 3],
    });
  });
  test('wildcard in the shared part over object keys', () => {
    assert.deepEqual(fm([move('*.old', '*.new')], { p: { old: 1 }, q: { old: 2 }, r: 3 }), {
      p: { new: 1 },
      q: { new: 2 },
      r: 3,
    });
  });
  test('move under a wildcard into a deeper new object', () => {
    assert.deepEqual(
      fm([move('items.*.price', 'items.*.meta.price')], { items: [{ price: 1 }, { price: 2 }] }),
      {
        items: [{ meta: { price: 1 } }, { meta: { price: 2 } }],
      },
    );
  });
  test('a move and then a del on the moved-from container (copy-on-write chain)', () => {
    const input = frozen({ zone: { state: 'NY', zip: '1' }, list: [{ a: 1, b: 2 }] });
    const out = compileFlatmap([
      move('zone.state', 'state'),
      del('zone.zip'),
      move('list.*.a', 'list.*.c'),
      del('list.*.b'),
      move('list.0.c', 'list.0.d'),
    ])(input);
    assert.deepEqual(out, { zone: {}, state: 'NY', list: [{ d: 1 }] });
    assert.deepEqual(input, { zone: { state: 'NY', zip: '1' }, list: [{ a: 1, b: 2 }] });
  });
  test('a __proto__ destination is a plain key', () => {
    const out = fm([move('a', '__proto__.x')], { a: 1 });
    assert.equal(Object.getPrototypeOf(out), Object.prototype);
    assert.equal(JSON.stringify(out), '{"__proto__":{"x":1}}');
    assert.equal({}.x, undefined);
  });
  test('a __proto__ source from JSON.parse is moved as data', () => {
    const out = fm([move('__proto__', 'p')], JSON.parse('{"__proto__": {"polluted": 1}}'));
    assert.equal(JSON.stringify(out), '{"p":{"polluted":1}}');
    assert.equal({}.polluted, undefined);
  });
  test('inherited member names are not found', () => {
    const input = { a: 1 };
    assert.deepEqual(
      fm([move('constructor', 'x'), move('toString', 'y'), move('__proto__', 'z')], input),
      input,
    );
  });
});

describe('append', () => {
  // krakend/flatmap tree/tree.go, Tree.Append, and its tree_test.go TestTree_Append ("plain")
  test('to elements first, then from elements; from removed', () => {
    assert.deepEqual(fm([append('a', 'b')], { a: [1, 2], b: [3], c: 0 }), { b: [3, 1, 2], c: 0 });
  });
  test('non-array source or destination, or a missing one: nothing', () => {
    for (const input of [
      { a: 1, b: [2] },
      { a: [1], b: 2 },
      { a: { x: 1 }, b: [] },
      { b: [1] },
      { a: [1] },
    ]) {
      assert.deepEqual(fm([append('a', 'b')], input), input);
    }
  });
  test('under a wildcard, per element', () => {
    const input = { g: [{ x: [1], y: [2] }, { x: [], y: [3] }, { y: [4] }] };
    assert.deepEqual(fm([append('g.*.x', 'g.*.y')], input), { g: [{ y: [2, 1] }, { y: [3] }, { y: [4] }] });
  });
  test('into a nested destination', () => {
    assert.deepEqual(fm([append('a', 'o.list')], { a: [1], o: { list: [2] } }), { o: { list: [2, 1] } });
  });
  test('does not share the destination array with the input', () => {
    const input = frozen({ a: [1], b: [2] });
    const out = compileFlatmap([append('a', 'b')])(input);
    assert.notEqual(out.b, input.b);
    assert.deepEqual(input, { a: [1], b: [2] });
  });
});

describe('endpoint level: merge then flatmap', () => {
  test('merged backends, then a flatmap over the merged object', () => {
    const acc = {};
    mergeInto(acc, { users: [{ id: 1, user_id: 5 }] });
    mergeInto(acc, { extra: [{ id: 2, user_id: 6 }] });
    const out = compileFlatmap([del('users.*.user_id', 'extra.*.user_id'), append('extra', 'users')])(acc);
    assert.deepEqual(out, { users: [{ id: 1 }, { id: 2 }] });
  });
});

describe('flatmapFromExtraConfig', () => {
  test('absent or malformed → undefined', () => {
    assert.equal(flatmapFromExtraConfig(undefined), undefined);
    assert.equal(flatmapFromExtraConfig({}), undefined);
    assert.equal(flatmapFromExtraConfig({ proxy: { sequential: true } }), undefined);
    assert.equal(flatmapFromExtraConfig({ proxy: { flatmap_filter: {} } }), undefined);
    assert.equal(flatmapFromExtraConfig({ proxy: { flatmap_filter: [] } }), undefined);
    assert.equal(
      flatmapFromExtraConfig({ proxy: { flatmap_filter: [{ type: 'nope', args: ['a'] }] } }),
      undefined,
    );
  });
  test('keeps the well-formed operations, in order', () => {
    const list = [del('a'), 'junk', { type: 'move', args: ['a', 1] }, move('b', 'c'), { type: 'del' }];
    assert.deepEqual(flatmapFromExtraConfig({ proxy: { flatmap_filter: list } }), [del('a'), move('b', 'c')]);
  });
  test('operations with a wrong arg count are ignored at run time', () => {
    const input = { a: 1, b: 2 };
    assert.deepEqual(
      fm(
        [
          { type: 'move', args: ['a'] },
          { type: 'append', args: ['a', 'b', 'c'] },
        ],
        input,
      ),
      input,
    );
  });
});

describe('validateFlatmap', () => {
  const P = '$.endpoints[0].extra_config.proxy.flatmap_filter';
  test('a valid list has no issues', () => {
    assert.deepEqual(validateFlatmap([move('a.*.b', 'a.*.c'), del('x', 'y.0'), append('k', 'l')], P), []);
  });
  test('not an array', () => {
    assert.deepEqual(
      validateFlatmap({ type: 'del' }, P).map((i) => i.path),
      [P],
    );
  });
  test('entry not an object', () => {
    assert.deepEqual(
      validateFlatmap(['del'], P).map((i) => i.path),
      [`${P}[0]`],
    );
  });
  test('unknown or missing type', () => {
    const issues = validateFlatmap([{ type: 'rename', args: ['a', 'b'] }, { args: ['a'] }], P);
    assert.deepEqual(
      issues.map((i) => i.path),
      [`${P}[0].type`, `${P}[1].type`],
    );
    assert.match(issues[0].message, /move.*del.*append/);
  });
  test('args missing or not an array', () => {
    assert.deepEqual(
      validateFlatmap([{ type: 'del' }, { type: 'del', args: 'a' }], P).map((i) => i.path),
      [`${P}[0].args`, `${P}[1].args`],
    );
  });
  test('arg counts: move/append need 2, del at least 1', () => {
    const issues = validateFlatmap(
      [
        { type: 'move', args: ['a'] },
        { type: 'append', args: ['a', 'b', 'c'] },
        { type: 'del', args: [] },
      ],
      P,
    );
    assert.deepEqual(
      issues.map((i) => i.path),
      [`${P}[0].args`, `${P}[1].args`, `${P}[2].args`],
    );
    assert.match(issues[0].message, /exactly 2/);
  });
  test('path syntax: non-string, empty, empty segments', () => {
    const issues = validateFlatmap([{ type: 'del', args: [3, '', 'a..b', '.a', 'a.'] }], P);
    assert.deepEqual(
      issues.map((i) => i.path),
      [0, 1, 2, 3, 4].map((j) => `${P}[0].args[${j}]`),
    );
  });
  test('lint: move onto itself', () => {
    assert.equal(lintFlatmap([move('a', 'a')], P).length, 1);
    assert.equal(lintFlatmap([del('a'), move('a', 'b')], P).length, 0);
  });
});

describe('path helpers', () => {
  test('splitPath keeps empty segments', () => {
    assert.deepEqual(splitPath('a..b'), ['a', '', 'b']);
  });
  test('splitMovePaths: base keeps at least the last segment of each path out', () => {
    assert.deepEqual(splitMovePaths(splitPath('a.*.b1.*.c'), splitPath('a.*.b1.*.c.d.e')), {
      base: ['a', '*', 'b1', '*'],
      srcRel: ['c'],
      dstRel: ['c', 'd', 'e'],
    });
    assert.deepEqual(splitMovePaths(['a', 'b'], ['a']), { base: [], srcRel: ['a', 'b'], dstRel: ['a'] });
    assert.equal(splitMovePaths(['a', '*'], ['a', '*', 'x']), undefined);
  });
});
