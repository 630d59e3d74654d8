// The Lua VM bridge on its own: helpers semantics, limits (instructions, time, memory) and
// that a state stays usable after a script was stopped.
import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { Op } from '../dist/modifiers/lua/prelude.js';
import { LuaCustomError, LuaExec, LuaScriptError, LuaState, loadLua } from '../dist/modifiers/lua/vm.js';

const limits = { maxInstructions: 2_000_000, maxMillis: 2000, maxMemory: 16 * 1024 * 1024 };

function state(entries, { sources = [], openLibs = false, lim = limits } = {}) {
  return new LuaState(
    sources,
    Object.entries(entries).map(([name, code]) => ({ name: `=${name}`, code })),
    openLibs,
    lim,
  );
}

/** Runs `entry` with a response whose data is `data`; returns the data afterwards. */
function runWithData(st, entry, data) {
  const exec = new LuaExec();
  exec.resp = { call: (op) => (op === Op.respData ? data : undefined) };
  st.run(st.refs[`=${entry}`], exec);
  return data;
}

describe('Lua VM', () => {
  before(() => loadLua());

  test('luaTable / luaList semantics: get, set, del, len, keys (sorted), keyExists, 0-based lists', () => {
    const st = state({
      main: `
        local d = response.load():data()
        local l = d:get('list')
        d:set('first', l:get(0))
        d:set('missing', l:get(10) == nil)
        l:set(3, 'd')
        l:del(0)
        d:set('len', l:len())
        d:set('keys', d:keys())
        d:set('exists', d:keyExists('list') and not d:keyExists('nope'))
        d:set('nested', { a = { 1, 2 }, b = { c = true } })
        d:set('float', 1.5)
        d:set('nil', luaNil.new())
        d:del('drop')
        d:set('n', #d:get('list'))
      `,
    });
    const out = runWithData(st, 'main', { list: ['a', 'b', 'c'], drop: 1 });
    assert.deepEqual(out, {
      list: ['b', 'c', 'd'],
      first: 'a',
      missing: true,
      len: 3,
      keys: ['drop', 'first', 'len', 'list', 'missing'],
      exists: true,
      nested: { a: [1, 2], b: { c: true } },
      float: 1.5,
      nil: null,
      n: 3,
    });
    st.close();
  });

  test('integers stay integers in Lua (tostring gives "3", not "3.0")', () => {
    const st = state({
      main: `local d = response.load():data(); d:set('s', tostring(d:get('n')) .. '|' .. math.type(d:get('n')))`,
    });
    assert.equal(runWithData(st, 'main', { n: 3 }).s, '3|integer');
    st.close();
  });

  test('custom_error carries message, status and content type; default status 500', () => {
    const st = state({
      a: 'custom_error("teapot", 418)',
      b: 'custom_error("plain")',
      c: 'custom_error("{}", 403, "application/json")',
    });
    const run = (e) => {
      try {
        st.run(st.refs[`=${e}`], new LuaExec());
      } catch (err) {
        return err;
      }
    };
    const a = run('a');
    assert.ok(a instanceof LuaCustomError);
    assert.deepEqual([a.message, a.status, a.contentType], ['teapot', 418, undefined]);
    assert.equal(run('b').status, 500);
    assert.deepEqual([run('c').status, run('c').contentType], [403, 'application/json']);
    st.close();
  });

  test('standard libraries: os/io only with allow_open_libs; string/table/math always', () => {
    const closed = state({
      main: `local d = response.load():data(); d:set('os', os == nil); d:set('io', io == nil); d:set('s', string.upper('x') .. table.concat({1,2}) .. math.floor(2.5))`,
    });
    assert.deepEqual(runWithData(closed, 'main', {}), { os: true, io: true, s: 'X122' });
    const open = state({ main: `response.load():data():set('os', type(os.time()))` }, { openLibs: true });
    assert.deepEqual(runWithData(open, 'main', {}), { os: 'number' });
    closed.close();
    open.close();
  });

  test('a syntax error in a source names the file and line', () => {
    assert.throws(
      () =>
        state(
          { main: 'x()' },
          { sources: [{ name: 'broken.lua', code: 'function x()\n  return 1 +\nend' }] },
        ),
      (err) => err instanceof LuaScriptError && /broken\.lua:3:/.test(err.message),
    );
  });

  test('an endless loop is stopped by the instruction budget, even inside pcall', () => {
    const st = state({
      loop: 'while true do end',
      sneaky: 'while true do pcall(function() while true do end end) end',
      ok: "response.load():data():set('ok', true)",
    });
    for (const entry of ['loop', 'sneaky']) {
      const t0 = Date.now();
      assert.throws(
        () => st.run(st.refs[`=${entry}`], new LuaExec()),
        (err) => err instanceof LuaScriptError && err.runaway && /ran past its budget/.test(err.message),
      );
      assert.ok(Date.now() - t0 < 5000);
    }
    assert.deepEqual(runWithData(st, 'ok', {}), { ok: true }, 'the state still works');
    st.close();
  });

  test('the time budget stops a script even with a large instruction budget', () => {
    const st = state(
      { loop: 'while true do end' },
      { lim: { ...limits, maxInstructions: 1e12, maxMillis: 100 } },
    );
    const t0 = Date.now();
    assert.throws(() => st.run(st.refs['=loop'], new LuaExec()), /100 ms/);
    assert.ok(Date.now() - t0 < 3000);
    st.close();
  });

  test('unbounded allocation hits the memory cap and the state recovers', () => {
    const st = state({
      hog: 'local t = {} local s = string.rep("x", 65536) local i = 0 while true do i = i + 1 t[i] = s .. i end',
      big: 'local s = string.rep("x", 1e9)',
      ok: "response.load():data():set('ok', true)",
    });
    for (const entry of ['hog', 'big']) {
      assert.throws(
        () => st.run(st.refs[`=${entry}`], new LuaExec()),
        (err) => err instanceof LuaScriptError && err.runaway && /not enough memory/.test(err.message),
      );
    }
    assert.ok(st.memoryUsed() < limits.maxMemory / 2, `memory released (${st.memoryUsed()})`);
    assert.deepEqual(runWithData(st, 'ok', {}), { ok: true });
    st.close();
  });

  test('objects from an earlier execution cannot be used', () => {
    const st = state({
      keep: 'saved = response.load():data()',
      use: "saved:set('x', 1)",
    });
    runWithData(st, 'keep', {});
    assert.throws(() => runWithData(st, 'use', {}), /another request/);
    st.close();
  });

  test('request/response/ctx are only there when the layer provides them', () => {
    const st = state({ req: 'request.load()', ctx: 'ctx.load()', resp: 'response.load()' });
    assert.throws(() => st.run(st.refs['=req'], new LuaExec()), /request\.load\(\) is not available/);
    assert.throws(() => st.run(st.refs['=ctx'], new LuaExec()), /ctx\.load\(\) is not available/);
    assert.throws(() => st.run(st.refs['=resp'], new LuaExec()), /only available in post/);
    st.close();
  });
});
