// The Lua side of the helper API (request, response, ctx, luaTable, luaList, luaNil,
// custom_error, http_response, json, print). It runs once in every Lua state, before the
// user's sources. Objects are thin Lua tables holding a handle to a JS value: reading or
// writing them goes through one native function, so a script pays only for what it touches.

/** Native operation codes shared by the prelude and the JS dispatcher (vm.ts). */
export const Op = {
  ctxLoad: 18,
  requestLoad: 19,
  reqMethod: 20,
  reqPath: 21,
  reqQuery: 22,
  reqUrl: 23,
  reqParams: 24,
  reqHeaders: 25,
  reqHeaderList: 26,
  reqBody: 27,
  reqHost: 28,
  responseLoad: 29,
  respIsComplete: 30,
  respStatus: 31,
  respData: 32,
  respHeaders: 33,
  respHeaderList: 34,
  respBody: 35,
  get: 10,
  set: 11,
  del: 12,
  len: 13,
  keys: 14,
  has: 15,
  newTable: 16,
  newList: 17,
  httpStart: 40,
  httpStatus: 41,
  httpHeaders: 42,
  httpHeaderList: 43,
  httpBody: 44,
  jsonMarshal: 50,
  jsonUnmarshal: 51,
  print: 60,
} as const;

/** Marker the prelude yields with while http_response waits for the network. */
export const HTTP_YIELD = '\u0000gw-http';

/** Kinds stored in the metatables (`__gwkind`) so that JS can recognise proxies. */
export const Kind = { table: 1, list: 2, nil: 3, http: 6, customError: 9 } as const;

export const PRELUDE = `
local N = __gw_native
__gw_native = nil
local select, setmetatable, error, tostring, concat = select, setmetatable, error, tostring, table.concat
local yield = coroutine.yield

local M = {}
local TMT = { __gwkind = ${Kind.table}, __index = M }
local LMT = { __gwkind = ${Kind.list}, __index = M }
local HTTP = {}
local HMT = { __gwkind = ${Kind.http}, __index = HTTP }
local ERRMT = { __gwkind = ${Kind.customError} }
local NIL = setmetatable({}, { __gwkind = ${Kind.nil}, __tostring = function() return 'nil' end })

local function wrap(t, v)
  if t == ${Kind.table} then return setmetatable({ h = v }, TMT) end
  if t == ${Kind.list} then return setmetatable({ h = v }, LMT) end
  if t == ${Kind.nil} then return NIL end
  return v
end

function M.get(self, k) return wrap(N(${Op.get}, self.h, k)) end
function M.set(self, k, v) N(${Op.set}, self.h, k, v) end
function M.del(self, k) N(${Op.del}, self.h, k) end
function M.len(self) return N(${Op.len}, self.h) end
function M.keys(self) return wrap(N(${Op.keys}, self.h)) end
function M.keyExists(self, k) return N(${Op.has}, self.h, k) end
TMT.__len = M.len
LMT.__len = M.len
TMT.__tostring = function(self) return 'luaTable' end
LMT.__tostring = function(self) return 'luaList' end

luaTable = { new = function() return wrap(N(${Op.newTable})) end }
luaList = { new = function() return wrap(N(${Op.newList})) end }
luaNil = { new = function() return NIL end }

local function methods(list)
  local mt = {}
  for name, op in pairs(list) do
    mt[name] = function(self, ...) return wrap(N(op, select('#', ...), ...)) end
  end
  return { __index = mt }
end

local REQ = methods({ method = ${Op.reqMethod}, path = ${Op.reqPath}, query = ${Op.reqQuery}, url = ${Op.reqUrl},
  params = ${Op.reqParams}, headers = ${Op.reqHeaders}, headerList = ${Op.reqHeaderList}, body = ${Op.reqBody},
  host = ${Op.reqHost} })
local RESP = methods({ isComplete = ${Op.respIsComplete}, statusCode = ${Op.respStatus}, data = ${Op.respData},
  headers = ${Op.respHeaders}, headerList = ${Op.respHeaderList}, body = ${Op.respBody} })

request = { load = function() N(${Op.requestLoad}) return setmetatable({}, REQ) end }
ctx = { load = function() N(${Op.ctxLoad}) return setmetatable({}, REQ) end }
response = { load = function() N(${Op.responseLoad}) return setmetatable({}, RESP) end }

function custom_error(msg, code, content_type)
  error(setmetatable({ m = tostring(msg), c = code, t = content_type }, ERRMT), 0)
end

function HTTP.statusCode(self) return N(${Op.httpStatus}, self.h) end
function HTTP.headers(self, k) return N(${Op.httpHeaders}, self.h, k) end
function HTTP.headerList(self, k) return wrap(N(${Op.httpHeaderList}, self.h, k)) end
function HTTP.body(self) return N(${Op.httpBody}, self.h) end
function HTTP.close(self) end
http_response = {
  new = function(url, method, body, headers)
    local id = N(${Op.httpStart}, url, method, body, headers)
    local ok, v = yield('\\0gw-http', id)
    if not ok then error(v, 2) end
    return setmetatable({ h = v }, HMT)
  end
}

json = {
  marshal = function(v) return N(${Op.jsonMarshal}, v) end,
  unmarshal = function(s) return wrap(N(${Op.jsonUnmarshal}, s)) end,
}

print = function(...)
  local n = select('#', ...)
  local parts = {}
  for i = 1, n do parts[i] = tostring((select(i, ...))) end
  N(${Op.print}, concat(parts, '\\t'))
end
`;
