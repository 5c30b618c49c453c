/**
 * The MLflow AI Gateway's HTTP surface as a plugin: its routes (`/health`, `/api/2.0/endpoints/...`,
 * the legacy and 3.0 reads, `/endpoints/{name}/invocations` and `/gateway/{name}/invocations`),
 * MLflow 3.11's field sets and order, `{"detail": ...}` errors and SSE streams without a
 * terminator. Its surface is the fallback for every path no other surface claims.
 */
import { definePlugin } from '@gatehouse/sdk';
import { mlflowRoutes } from './routes.js';
import { mlflowSurface } from './surface.js';

export { mlflowSurface, SURFACE } from './surface.js';
export { mlflowRoutes, endpointJson, legacyRouteJson, encodePageToken, decodePageToken, page, PAGE_SIZE } from './routes.js';
export { mlflowChunks, mlflowChatChunk, mlflowCompletionsChunk, mlflowResponse } from './wire.js';
export { MLFLOW_SCHEMAS } from './openapi.js';

/** The MLflow version whose wire behaviour this surface matches. */
export const MLFLOW_VERSION = '3.11';

export default definePlugin({
  name: 'mlflow',
  register(ctx) {
    ctx.surface(mlflowSurface);
    for (const route of mlflowRoutes()) ctx.route(route);
  },
});
