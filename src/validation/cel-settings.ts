// The `validation/cel` settings, declared once for gw's own check (cel.ts) and for
// `check --lint` (src/config/lint-schema.ts). Nothing here loads the CEL engine.

/** An array of checks, each an expression that must hold. */
export const CEL_SCHEMA = {
  type: 'array',
  items: {
    type: 'object',
    required: ['check_expr'],
    properties: { check_expr: { type: 'string' } },
  },
};
