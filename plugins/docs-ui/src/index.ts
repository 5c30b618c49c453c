/**
 * The interactive API page: `GET /` redirects to `/docs`, `/docs` is Swagger UI (served from the
 * installed swagger-ui-dist, no CDN), and `/openapi.json` describes the gateway as it is
 * configured right now.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { definePlugin, GatewayError, type RouteResult } from '@gatehouse/sdk';
import { buildOpenAPI } from './openapi.js';

export { buildOpenAPI, type OpenAPIOptions } from './openapi.js';

const require = createRequire(import.meta.url);

/** The swagger-ui-dist files the page uses, with their content types. Nothing else is served. */
const ASSETS: Record<string, string> = {
  'swagger-ui.css': 'text/css; charset=utf-8',
  'swagger-ui.css.map': 'application/json',
  'swagger-ui-bundle.js': 'text/javascript; charset=utf-8',
  'swagger-ui-bundle.js.map': 'application/json',
  'favicon-16x16.png': 'image/png',
  'favicon-32x32.png': 'image/png',
};

let distDir: string | undefined;
const cache = new Map<string, Buffer>();

/** Read an asset once per process (the bundle is 1.7 MB; reloads should not re-read it). */
function asset(file: string): Buffer {
  let b = cache.get(file);
  if (!b) {
    distDir ??= dirname(require.resolve('swagger-ui-dist/package.json'));
    b = readFileSync(join(distDir, file));
    cache.set(file, b);
  }
  return b;
}

const escapeHtml = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** The page. URLs are relative, so it also works behind a proxy that adds a path prefix. */
export function docsPage(title = 'Gatehouse'): string {
  const t = escapeHtml(title);
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${t}</title>
<link rel="icon" type="image/png" href="docs/assets/favicon-32x32.png">
<link rel="stylesheet" href="docs/assets/swagger-ui.css">
</head>
<body>
<div id="swagger-ui"></div>
<script src="docs/assets/swagger-ui-bundle.js"></script>
<script>
window.ui = SwaggerUIBundle({
  url: 'openapi.json',
  dom_id: '#swagger-ui',
  layout: 'BaseLayout',
  deepLinking: true,
  showExtensions: true,
  showCommonExtensions: true,
  displayRequestDuration: true,
  validatorUrl: null,
  presets: [SwaggerUIBundle.presets.apis, SwaggerUIBundle.SwaggerUIStandalonePreset],
});
</script>
</body>
</html>
`;
}

const NO_CACHE = { 'cache-control': 'no-cache' };

export default definePlugin({
  name: 'docs-ui',
  register(ctx) {
    // Swagger UI needs its files; fail at start-up, naming the package, rather than on the first page view.
    try { asset('swagger-ui-bundle.js'); } catch (e) {
      throw new Error(`cannot read swagger-ui-dist (is it installed?): ${(e as Error).message}`);
    }
    const page = docsPage();
    ctx.route({ method: 'GET', path: '/', handler: async (): Promise<RouteResult> => ({ redirect: '/docs', status: 307 }) });
    ctx.route({
      method: 'GET', path: '/docs',
      handler: async () => ({ headers: NO_CACHE, text: page, contentType: 'text/html; charset=utf-8' }),
    });
    ctx.route({
      method: 'GET', path: '/docs/assets/:file',
      handler: async (req) => {
        const file = req.params.file ?? '';
        const type = Object.hasOwn(ASSETS, file) ? ASSETS[file] : undefined;
        if (!type) throw new GatewayError('GW_ERR_ROUTE_NOT_FOUND', 'Not Found');
        return { headers: { 'cache-control': 'public, max-age=86400' }, text: asset(file), contentType: type };
      },
    });
    ctx.route({
      method: 'GET', path: '/favicon.ico',
      handler: async () => ({ headers: { 'cache-control': 'public, max-age=86400' }, text: asset('favicon-32x32.png'), contentType: 'image/png' }),
    });
    ctx.route({
      method: 'GET', path: '/openapi.json',
      // Built per request from the live gateway: a reloaded config is described at once.
      handler: async (_req, gw) => ({
        headers: NO_CACHE,
        // Describe /v1 only when something serves it (the openai-compat plugin, unless disabled).
        json: buildOpenAPI(gw, { version: gw.version, openai: gw.httpRoutes().some((r) => r.path === '/v1/chat/completions') }),
      }),
    });
  },
});
