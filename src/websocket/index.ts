// The `websocket` namespace's module: loaded (with the `ws` client) only by a configuration
// that has a WebSocket endpoint.

import type { FeatureModule } from '../types.js';
import { validateWebSocket, WEBSOCKET_NAMESPACE, websocketSchema } from './config.js';
import { compileWebSocketEndpoint } from './proxy.js';

export const websocketModule: FeatureModule = {
  namespace: WEBSOCKET_NAMESPACE,
  schema: websocketSchema,
  validate: validateWebSocket,
  terminal: compileWebSocketEndpoint,
};
