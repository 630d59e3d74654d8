// Per-backend manipulation (target, allow, deny, mapping, group), merge and collection wrapping:
// the TS reference that the WASM transform is differential-tested against.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  compileAllow,
  compileBackendManipulation,
  compileDeny,
  compileMapping,
  compileTarget,
  lintBackendManipulation,
  manipulationFromBackend,
  mergeInto,
  wrapCollection,
} from '../dist/transform/index.js';
import { DOCS_USER } from './fixtures/docs-user.mjs';

/** Deep-freezes a value: any mutation by a transform then throws (ESM code is strict). */
function frozen(v) {
  if (typeof v === 'object' && v !== null) {
    for (const k of Object.keys(v)) frozen(v[k]);
    Object.freeze(v);
  }
  return v;
}

/** Runs a backend config's manipulation on a (frozen) input. */
function run(backend, input) {
  const t = compileBackendManipulation(manipulationFromBackend({ url_pattern: '/x', ...backend }));
  const data = frozen(structuredClone(input));
  return t ? t(data) : data;
}

const keys = (o) => Object.keys(o);

// The docs' jsonplaceholder fixtures.
const user = DOCS_USER;
const post = {
  userId: 1,
  id: 1,
  title: 'sunt aut facere repellat provident occaecati excepturi optio reprehenderit',
  body: 'quia et suscipit\nsuscipit recusandae consequuntur expedita et cum\nreprehenderit molestiae ut ut quas totam\nnostrum rerum est autem sunt rem eveniet architecto',
};

describe('docs examples', () => {
  test('merge example: /users/{user} + /posts/{user}', () => {
    const acc = {};
    mergeInto(acc, run({}, user));
    mergeInto(acc, run({}, post));
    const { id, ...rest } = post;
    assert.deepEqual(acc, { ...user, ...rest });
    // the docs show the post keys after the user keys, id at the user's position
    assert.deepEqual(keys(acc), [...keys(user), 'userId', 'title', 'body']);
  });

  test('deny list example: body and userId removed', () => {
    assert.deepEqual(run({ deny: ['body', 'userId'] }, post), { id: 1, title: post.title });
  });

  test('allow list example: only id and title', () => {
    const out = run({ allow: ['id', 'title'] }, post);
    assert.deepEqual(out, { id: 1, title: post.title });
  });

  test('nested deny a.a1 on {a: {a1: 1}}', () => {
    assert.deepEqual(run({ deny: ['a.a1'] }, { a: { a1: 1, a2: 2 } }), { a: { a2: 2 } });
  });

  test('nested deny a.a1 does not work through an array', () => {
    const input = { a: [{ a1: 1 }] };
    assert.deepEqual(run({ deny: ['a.a1'] }, input), input);
  });

  test('grouping example: second backend under last_post', () => {
    const acc = {};
    mergeInto(acc, run({}, user));
    mergeInto(acc, run({ group: 'last_post' }, post));
    assert.deepEqual(acc, { ...user, last_post: post });
    assert.equal(keys(acc).at(-1), 'last_post');
  });

  test('mapping example: email → personal_email, in place', () => {
    const out = run({ mapping: { email: 'personal_email' } }, user);
    const { email, ...rest } = user;
    assert.deepEqual(out, { ...rest, personal_email: email });
    assert.deepEqual(
      keys(out),
      keys(user).map((k) => (k === 'email' ? 'personal_email' : k)),
    );
  });

  test('target example: capture data', () => {
    const input = {
      apiVersion: '2.0',
      data: {
        updated: '2010-01-07T19:58:42.949Z',
        totalItems: 800,
        startIndex: 1,
        itemsPerPage: 1,
        items: [],
      },
    };
    assert.deepEqual(run({ target: 'data' }, input), input.data);
  });

  test('is_collection example: collection renamed to myposts', () => {
    const posts = [{ id: 1 }, { id: 2 }];
    assert.deepEqual(
      run({ is_collection: true, mapping: { collection: 'myposts' } }, wrapCollection(posts)),
      {
        myposts: posts,
      },
    );
  });

  test('default collection key', () => {
    assert.deepEqual(wrapCollection([{ a: true }, { b: false }]), {
      collection: [{ a: true }, { b: false }],
    });
  });
});

describe('target', () => {
  test('nested dot path', () => {
    assert.deepEqual(run({ target: 'a.b' }, { a: { b: { c: 1 } }, z: 1 }), { c: 1 });
  });
  test('missing step yields {}', () => {
    assert.deepEqual(run({ target: 'a.x' }, { a: { b: 1 } }), {});
    assert.deepEqual(run({ target: 'nope' }, { a: 1 }), {});
  });
  test('non-object step yields {} (scalar, null, array)', () => {
    assert.deepEqual(run({ target: 'a' }, { a: 5 }), {});
    assert.deepEqual(run({ target: 'a' }, { a: null }), {});
    assert.deepEqual(run({ target: 'a' }, { a: [{ b: 1 }] }), {});
    assert.deepEqual(run({ target: 'a.0' }, { a: [{ b: 1 }] }), {});
  });
  test('target returns the nested object itself (no copy)', () => {
    const inner = { c: 1 };
    assert.equal(compileTarget('a')({ a: inner }), inner);
  });
  test('empty target is no target', () => {
    assert.equal(
      compileBackendManipulation(manipulationFromBackend({ url_pattern: '/', target: '' })),
      undefined,
    );
  });
  test('target then allow works on the captured object', () => {
    assert.deepEqual(run({ target: 'data', allow: ['a'] }, { data: { a: 1, b: 2 }, a: 9 }), { a: 1 });
  });
  test('target to an empty object, then group', () => {
    assert.deepEqual(run({ target: 'x', group: 'g' }, { y: 1 }), { g: {} });
  });
});

describe('allow', () => {
  test('keeps document order, not list order', () => {
    const out = run({ allow: ['c', 'a'] }, { a: 1, b: 2, c: 3 });
    assert.equal(JSON.stringify(out), '{"a":1,"c":3}');
  });
  test('nested paths build the nested structure', () => {
    const input = { a: { b: { c: 1, d: 2 }, e: 3 }, f: 4 };
    assert.deepEqual(run({ allow: ['a.b.c', 'f'] }, input), { a: { b: { c: 1 } }, f: 4 });
  });
  test('several nested paths under one parent', () => {
    assert.deepEqual(run({ allow: ['a.x', 'a.z'] }, { a: { x: 1, y: 2, z: 3 } }), { a: { x: 1, z: 3 } });
  });
  test('missing paths are ignored; nothing allowed → {}', () => {
    assert.deepEqual(run({ allow: ['zzz', 'a.q'] }, { a: { b: 1 }, c: 2 }), {});
  });
  test('a parent left without allowed keys is dropped', () => {
    assert.deepEqual(run({ allow: ['a.b', 'c'] }, { a: { x: 1 }, c: 2 }), { c: 2 });
  });
  test('an allowed leaf that is {} stays', () => {
    assert.deepEqual(run({ allow: ['a', 'b.c'] }, { a: {}, b: { c: {} } }), { a: {}, b: { c: {} } });
  });
  test('an allowed leaf keeps arrays, null and scalars as they are', () => {
    const input = { a: [1, { x: 2 }], n: null, s: 'x', z: 0 };
    assert.deepEqual(run({ allow: ['a', 'n', 's'] }, input), { a: [1, { x: 2 }], n: null, s: 'x' });
  });
  test('a path step that is an array drops the key (objects only)', () => {
    assert.deepEqual(run({ allow: ['a.a1', 'k'] }, { a: [{ a1: 1 }], k: 1 }), { k: 1 });
  });
  test('a path step that is a scalar drops the key', () => {
    assert.deepEqual(run({ allow: ['a.b'] }, { a: 5 }), {});
  });
  test('broader path wins in either order', () => {
    const input = { a: { b: 1, c: 2 } };
    assert.deepEqual(run({ allow: ['a', 'a.b'] }, input), input);
    assert.deepEqual(run({ allow: ['a.b', 'a'] }, input), input);
  });
  test('empty allow list falls back to deny', () => {
    assert.deepEqual(run({ allow: [], deny: ['a'] }, { a: 1, b: 2 }), { b: 2 });
  });
  test('allow wins over deny when both are set', () => {
    assert.deepEqual(run({ allow: ['a'], deny: ['a'] }, { a: 1, b: 2 }), { a: 1 });
  });
  test('deep path (8 levels)', () => {
    const input = { a: { b: { c: { d: { e: { f: { g: { h: 1, i: 2 } } } } } } } };
    assert.deepEqual(run({ allow: ['a.b.c.d.e.f.g.h'] }, input), {
      a: { b: { c: { d: { e: { f: { g: { h: 1 } } } } } } },
    });
  });
  test('builds new objects and leaves input untouched', () => {
    const input = frozen({ a: { b: 1, c: 2 } });
    const out = compileAllow(['a.b'])(input);
    assert.notEqual(out.a, input.a);
    assert.deepEqual(input, { a: { b: 1, c: 2 } });
  });
  test('allow on inherited member names finds nothing', () => {
    assert.deepEqual(run({ allow: ['toString', 'constructor.name', 'hasOwnProperty'] }, { a: 1 }), {});
  });
});

describe('deny', () => {
  test('keeps the order of the remaining keys', () => {
    assert.equal(JSON.stringify(run({ deny: ['b'] }, { c: 1, b: 2, a: 3 })), '{"c":1,"a":3}');
  });
  test('nested deny keeps the emptied parent', () => {
    assert.deepEqual(run({ deny: ['a.b'] }, { a: { b: 1 } }), { a: {} });
  });
  test('deny through a scalar or null changes nothing', () => {
    const input = { a: 1, n: null };
    assert.deepEqual(run({ deny: ['a.b', 'n.x'] }, input), input);
  });
  test('missing paths change nothing and return the input itself', () => {
    const input = frozen({ a: { b: 1 } });
    assert.equal(compileDeny(['x', 'a.c', 'a.b.c'])(input), input);
  });
  test('broader path wins in either order', () => {
    assert.deepEqual(run({ deny: ['a', 'a.b'] }, { a: { b: 1, c: 2 }, d: 1 }), { d: 1 });
    assert.deepEqual(run({ deny: ['a.b', 'a'] }, { a: { b: 1, c: 2 }, d: 1 }), { d: 1 });
  });
  test('several nested paths and siblings', () => {
    const input = { a: { b: { c: 1, d: 2 }, e: 3 }, f: { g: 1 }, h: 1 };
    assert.deepEqual(run({ deny: ['a.b.c', 'a.e', 'f.g', 'h'] }, input), { a: { b: { d: 2 } }, f: {} });
  });
  test('copies only the changed path (structural sharing)', () => {
    const input = frozen({ a: { b: 1, c: 2 }, big: { x: [1, 2, 3] } });
    const out = compileDeny(['a.b'])(input);
    assert.deepEqual(out, { a: { c: 2 }, big: { x: [1, 2, 3] } });
    assert.equal(out.big, input.big);
    assert.notEqual(out.a, input.a);
  });
  test('deny of inherited member names changes nothing', () => {
    const input = { a: 1 };
    assert.deepEqual(run({ deny: ['toString', '__proto__', 'constructor.prototype'] }, input), input);
  });
});

describe('mapping', () => {
  test('renames top-level keys, leaves others', () => {
    assert.deepEqual(run({ mapping: { a: 'x', b: 'y' } }, { a: 1, b: 2, c: 3 }), { x: 1, y: 2, c: 3 });
  });
  test('dotted source: only the first segment counts', () => {
    assert.deepEqual(run({ mapping: { 'a.b': 'x' } }, { a: { b: 1, c: 2 }, d: 1 }), {
      x: { b: 1, c: 2 },
      d: 1,
    });
  });
  test('dotted destination: only the first segment counts', () => {
    assert.deepEqual(run({ mapping: { a: 'x.y' } }, { a: 1 }), { x: 1 });
  });
  test('does not reach nested keys', () => {
    const input = { a: { email: 1 } };
    assert.deepEqual(run({ mapping: { email: 'mail' } }, input), input);
  });
  test('missing source: the input itself is returned', () => {
    const input = frozen({ a: 1 });
    assert.equal(compileMapping({ zz: 'x' })(input), input);
  });
  test('simultaneous: swap', () => {
    assert.equal(JSON.stringify(run({ mapping: { a: 'b', b: 'a' } }, { a: 1, b: 2 })), '{"b":1,"a":2}');
  });
  test('simultaneous: no chaining', () => {
    assert.deepEqual(run({ mapping: { a: 'b', b: 'c' } }, { a: 1, b: 2 }), { b: 1, c: 2 });
  });
  test('renamed key beats an existing key of that name, wherever it is', () => {
    assert.equal(JSON.stringify(run({ mapping: { a: 'b' } }, { a: 1, b: 2 })), '{"b":1}');
    assert.equal(JSON.stringify(run({ mapping: { a: 'b' } }, { b: 2, a: 1 })), '{"b":1}');
  });
  test('two renamed keys to one name: later in the document wins', () => {
    assert.deepEqual(run({ mapping: { a: 'x', b: 'x' } }, { b: 2, a: 1 }), { x: 1 });
  });
  test('identity mapping changes nothing', () => {
    assert.equal(compileMapping({ a: 'a' }), undefined);
  });
  test('mapping runs after allow (allow uses the original names)', () => {
    assert.deepEqual(run({ allow: ['email'], mapping: { email: 'mail' } }, user), { mail: user.email });
  });
  test('mapping runs after deny', () => {
    assert.deepEqual(run({ deny: ['b'], mapping: { a: 'b' } }, { a: 1, b: 2 }), { b: 1 });
  });
  test('mapping onto __proto__ makes a plain key, no prototype change', () => {
    const out = run({ mapping: { a: '__proto__' } }, { a: { polluted: true } });
    assert.equal(Object.getPrototypeOf(out), Object.prototype);
    assert.equal(out.polluted, undefined);
    assert.equal(JSON.stringify(out), '{"__proto__":{"polluted":true}}');
    assert.equal({}.polluted, undefined);
  });
});

describe('group', () => {
  test('wraps everything', () => {
    assert.deepEqual(run({ group: 'g' }, { a: 1 }), { g: { a: 1 } });
  });
  test('wraps an empty result too', () => {
    assert.deepEqual(run({ allow: ['zz'], group: 'g' }, { a: 1 }), { g: {} });
  });
  test('target + allow + mapping + group in that order', () => {
    const input = { meta: 1, data: { id: 7, secret: 's', name: 'n' } };
    assert.deepEqual(
      run({ target: 'data', allow: ['id', 'name'], mapping: { name: 'title' }, group: 'item' }, input),
      {
        item: { id: 7, title: 'n' },
      },
    );
  });
  test('group named __proto__ is a plain key', () => {
    const out = run({ group: '__proto__' }, { a: 1 });
    assert.equal(Object.getPrototypeOf(out), Object.prototype);
    assert.deepEqual(Object.getOwnPropertyDescriptor(out, '__proto__').value, { a: 1 });
  });
});

describe('merge', () => {
  test('later part overwrites, first position kept, new keys appended', () => {
    const acc = {};
    mergeInto(acc, { a: 1, b: 2 });
    mergeInto(acc, { c: 3, a: 9 });
    assert.equal(JSON.stringify(acc), '{"a":9,"b":2,"c":3}');
  });
  test('merge is shallow: nested objects are replaced, not merged', () => {
    const acc = {};
    mergeInto(acc, { a: { x: 1 } });
    mergeInto(acc, { a: { y: 2 } });
    assert.deepEqual(acc, { a: { y: 2 } });
  });
  test('does not mutate the part; shares its values', () => {
    const part = frozen({ a: { x: 1 } });
    const acc = {};
    mergeInto(acc, part);
    assert.equal(acc.a, part.a);
  });
  test('__proto__ key from a backend stays data', () => {
    const part = JSON.parse('{"__proto__": {"isAdmin": true}, "ok": 1}');
    const acc = {};
    mergeInto(acc, part);
    assert.equal(Object.getPrototypeOf(acc), Object.prototype);
    assert.equal(acc.isAdmin, undefined);
    assert.equal(JSON.stringify(acc), '{"__proto__":{"isAdmin":true},"ok":1}');
    assert.equal({}.isAdmin, undefined);
  });
});

describe('wrapCollection', () => {
  test('object as is (same object)', () => {
    const o = { a: 1 };
    assert.equal(wrapCollection(o), o);
  });
  test('scalars and null under content', () => {
    assert.deepEqual(wrapCollection('x'), { content: 'x' });
    assert.deepEqual(wrapCollection(3), { content: 3 });
    assert.deepEqual(wrapCollection(false), { content: false });
    assert.deepEqual(wrapCollection(null), { content: null });
  });
  test('empty array', () => {
    assert.deepEqual(wrapCollection([]), { collection: [] });
  });
});

describe('manipulationFromBackend / compileBackendManipulation', () => {
  test('reads every field', () => {
    const m = manipulationFromBackend({
      url_pattern: '/',
      target: 't',
      allow: ['a'],
      deny: ['b'],
      mapping: { c: 'd' },
      group: 'g',
      extra_config: { proxy: { flatmap_filter: [{ type: 'del', args: ['x'] }] } },
    });
    assert.deepEqual(m, {
      target: 't',
      allow: ['a'],
      deny: ['b'],
      mapping: { c: 'd' },
      group: 'g',
      flatmap: [{ type: 'del', args: ['x'] }],
    });
  });
  test('nothing configured → undefined (identity)', () => {
    assert.equal(compileBackendManipulation(manipulationFromBackend({ url_pattern: '/' })), undefined);
    assert.equal(
      compileBackendManipulation(
        manipulationFromBackend({ url_pattern: '/', allow: [], deny: [], mapping: {}, group: '' }),
      ),
      undefined,
    );
  });
  test('an empty flatmap_filter does not disable allow/deny/mapping', () => {
    const b = { allow: ['a'], extra_config: { proxy: { flatmap_filter: [] } } };
    assert.deepEqual(run(b, { a: 1, b: 2 }), { a: 1 });
  });
  test('backend flatmap replaces allow, deny and mapping but keeps target and group', () => {
    const b = {
      target: 'data',
      allow: ['zzz'],
      deny: ['a'],
      mapping: { a: 'renamed' },
      group: 'g',
      extra_config: { proxy: { flatmap_filter: [{ type: 'move', args: ['a', 'b'] }] } },
    };
    assert.deepEqual(run(b, { data: { a: 1, c: 2 } }), { g: { c: 2, b: 1 } });
  });
  test('is_collection + allow on the collection key', () => {
    assert.deepEqual(run({ allow: ['collection'] }, wrapCollection([1, 2])), { collection: [1, 2] });
  });
  test('is_collection + target collection yields {} (array is not an object)', () => {
    assert.deepEqual(run({ target: 'collection' }, wrapCollection([1, 2])), {});
  });
  test('a JSON.parse input with a __proto__ key through every stage pollutes nothing', () => {
    const input = JSON.parse('{"d": {"__proto__": {"p": 1}, "a": 1}, "__proto__": {"q": 1}}');
    const out = run(
      { target: 'd', deny: ['a'], mapping: JSON.parse('{"__proto__": "x"}'), group: 'g' },
      input,
    );
    assert.deepEqual(JSON.stringify(out), '{"g":{"x":{"p":1}}}');
    assert.equal({}.p, undefined);
    assert.equal({}.q, undefined);
  });
});

describe('lintBackendManipulation', () => {
  test('allow with deny: deny flagged', () => {
    const issues = lintBackendManipulation(
      { url_pattern: '/', allow: ['a'], deny: ['b'] },
      '$.endpoints[0].backend[0]',
    );
    assert.deepEqual(
      issues.map((i) => i.path),
      ['$.endpoints[0].backend[0].deny'],
    );
  });
  test('flatmap with allow/deny/mapping: each flagged', () => {
    const b = {
      url_pattern: '/',
      allow: ['a'],
      mapping: { a: 'b' },
      extra_config: { proxy: { flatmap_filter: [{ type: 'del', args: ['x'] }] } },
    };
    assert.deepEqual(
      lintBackendManipulation(b, '$.b').map((i) => i.path),
      ['$.b.allow', '$.b.mapping'],
    );
  });
  test('a clean backend has no warnings', () => {
    assert.deepEqual(lintBackendManipulation({ url_pattern: '/', allow: ['a'], group: 'g' }, '$.b'), []);
  });
});
