import { defaultLimits, LuaExec, LuaState, loadLua } from '../../dist/modifiers/lua/vm.js';

await loadLua();
const src = `function post_proxy( resp )
  local responseData = resp:data()
  local col = responseData:get("collection")
  local size = col:len()
  responseData:set("total", size)
  local paths = {}
  for i=0,size-1 do
    local element = col:get(i)
    local t = element:get("path")
    table.insert(paths, t)
  end
  responseData:set("paths", paths)
  responseData:del("collection")
end`;
const st = new LuaState(
  [{ name: 'x.lua', code: src }],
  [
    { name: 'post', code: 'post_proxy(response.load())' },
    { name: 'loop', code: 'while true do end' },
    { name: 'mem', code: 'local t = {} local s = string.rep("x", 1000000) for i=1,1e9 do t[i] = s .. i end' },
    { name: 'ce', code: 'custom_error("teapot", 418)' },
    { name: 'bad', code: 'local x = nil; x.y = 1' },
  ],
  false,
  defaultLimits,
);
let data;
const view = {
  call(op, _args) {
    if (op === 32) return data;
    return undefined;
  },
};
const N = Number(process.argv[2] ?? 100);
function once() {
  data = { collection: Array.from({ length: N }, (_, i) => ({ path: `/p/${i}`, id: i })) };
  const ex = new LuaExec();
  ex.resp = view;
  st.run(st.refs.post, ex);
  return data;
}
console.log(JSON.stringify(once()).slice(0, 100));
for (let i = 0; i < 1000; i++) once();
const t = process.hrtime.bigint();
const it = 5000;
for (let i = 0; i < it; i++) once();
console.log(`N=${N}: ${(Number(process.hrtime.bigint() - t) / it / 1000).toFixed(1)} us/call`);
