/**
 * How the MLflow surface shapes errors: `{"detail": ...}` with MLflow's statuses (FastAPI-shaped
 * 422 lists pass through as `detail`), `{"error": message}` for rate limits (slowapi's shape), and
 * SSE streams without a terminator that end with a last `{"error": {...}}` event on failure.
 */
import type { SurfaceDefinition } from '@gatehouse/sdk';

export const SURFACE = 'mlflow';

export const mlflowSurface: SurfaceDefinition = {
  name: SURFACE,
  // The fallback for every path no other surface claims; `/v1/` (longer) stays OpenAI's.
  pathPrefix: '/',
  renderError(err) {
    if (err.code === 'GW_ERR_RATE_LIMITED') return { status: err.status, body: { error: err.message } };
    return { status: err.status, body: { detail: err.expose ? err.detail : 'Internal Server Error' } };
  },
  renderStreamError(err) {
    return { error: { message: err.expose ? err.message : 'Internal Server Error', type: err.type, code: err.code, status: err.status } };
  },
};
