// The settings of `auth/validator` and `auth/signer` that both gw's own check (jwt-validator.ts,
// jwt-signer.ts) and `check --lint` (src/config/lint-schema.ts) hold a configuration to, declared
// once (jwk.ts types `key_identify_strategy` by it too). Nothing here loads jose or the key sources.

/** The JWS algorithms krakend-jose accepts in `alg`. */
export const JWS_ALGORITHMS = [
  'EdDSA',
  'HS256',
  'HS384',
  'HS512',
  'RS256',
  'RS384',
  'RS512',
  'ES256',
  'ES384',
  'ES512',
  'PS256',
  'PS384',
  'PS512',
] as const;

/** `scopes_matcher`: every listed scope must be in the token, or any one of them. */
export const SCOPES_MATCHERS = ['any', 'all'] as const;

/** The `key_identify_strategy` values gw implements (how a token's key is found in the JWK set). */
export const KEY_IDENTIFY_STRATEGIES = ['kid', 'x5t', 'kid_x5t'] as const;

export type FieldKind = 'string' | 'string[]' | 'boolean';

/**
 * The endpoint-level `auth/validator` fields that are checked by type alone, in the order the
 * check reports them (`alg`, `cache_duration` and the enumerations have checks of their own).
 */
export const VALIDATOR_TYPED_FIELDS: Readonly<Record<string, FieldKind>> = {
  jwk_url: 'string',
  jwk_local_path: 'string',
  jwk_local_ca: 'string',
  issuer: 'string',
  roles_key: 'string',
  scopes_key: 'string',
  cookie_key: 'string',
  audience: 'string[]',
  roles: 'string[]',
  scopes: 'string[]',
  jwk_fingerprints: 'string[]',
  roles_key_is_nested: 'boolean',
  disable_jwk_security: 'boolean',
  operation_debug: 'boolean',
  cache: 'boolean',
};
