// The settings of the three Lua namespaces (`modifier/lua-endpoint`, `modifier/lua-proxy`,
// `modifier/lua-backend`), declared once for gw's own check (index.ts) and for `check --lint`
// (src/config/lint-schema.ts). Nothing here loads the Lua VM.

export const LUA_SCHEMA = {
  type: 'object',
  properties: {
    sources: { type: 'array', items: { type: 'string' } },
    md5: { type: 'object', additionalProperties: { type: 'string' } },
    pre: { type: 'string' },
    post: { type: 'string' },
    live: { type: 'boolean' },
    allow_open_libs: { type: 'boolean' },
    skip_next: { type: 'boolean' },
  },
};
