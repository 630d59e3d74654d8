// The yaml output encoder (and negotiate's answer to `Accept: text/plain`, in YAML as Lura
// answers it), registered when a configuration uses either (src/extensions/registry.ts).

import { stringify } from 'yaml';
import { registerEncoder } from '../proxy/encodings.js';

registerEncoder('yaml', (data) => ({
  contentType: 'application/x-yaml; charset=utf-8',
  body: stringify(data ?? {}),
}));
