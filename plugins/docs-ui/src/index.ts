/**
 * The interactive API page: `GET /` redirects to `/docs`, `/docs` is Swagger UI (served from the
 * installed swagger-ui-dist, no CDN), and `/openapi.json` describes the gateway as it is
 * configured right now, from the OpenAPI operations the mounted routes carry.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { definePlugin, GatewayError, type GatewayApi, type RouteAccess, type RouteResult } from '@gatehouse/sdk';
import { buildOpenAPI } from './openapi.js';

export { buildOpenAPI, describeEndpoint, openAPIPath, type InvocationExtension, type OpenAPIOptions } from './openapi.js';

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

/** A link in the page header. `href` is relative to `/docs`' directory (e.g. `docs/traces`). */
export interface PageLink { href: string; text: string }

export interface DocsPageOptions {
  title?: string;
  /** Links shown above the API description (e.g. the tracing plugin's `/docs/traces`). */
  links?: PageLink[];
}

const HEADER_CSS = 'header.gatehouse{font-family:sans-serif;padding:8px 20px;border-bottom:1px solid #ddd;font-size:14px}' +
  'header.gatehouse a{margin-right:16px;color:#1f69c0;text-decoration:none}header.gatehouse a:hover{text-decoration:underline}';

/** The page. URLs are relative, so it also works behind a proxy that adds a path prefix. */
export function docsPage(options: DocsPageOptions | string = {}): string {
  const opts = typeof options === 'string' ? { title: options } : options;
  const t = escapeHtml(opts.title ?? 'Gatehouse');
  const links = opts.links ?? [];
  const header = links.length
    ? `<header class="gatehouse"><nav>${links.map((l) => `<a href="${escapeHtml(l.href)}">${escapeHtml(l.text)}</a>`).join('')}</nav></header>\n`
    : '';
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${t}</title>
<link rel="icon" type="image/png" href="docs/assets/favicon-32x32.png">
<link rel="stylesheet" href="docs/assets/swagger-ui.css">
${header ? `<style>${HEADER_CSS}</style>\n` : ''}</head>
<body>
${header}<div id="swagger-ui"></div>
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

/** The tracing plugin's trace browser, linked from the page header when it is mounted. */
export const TRACES_PATH = '/docs/traces';

/** The links the header shows for this gateway's routes. */
export function pageLinks(gw: GatewayApi): PageLink[] {
  const has = (path: string) => gw.httpRoutes().some((r) => r.method === 'GET' && r.path === path);
  return has(TRACES_PATH) ? [{ href: 'docs/traces', text: 'Traces' }] : [];
}

export interface DocsUiConfig {
  /** Who may open the docs routes (`/`, `/docs`, its assets, `/openapi.json`): `public` (default) or `caller`. */
  access?: 'public' | 'caller';
}

export default definePlugin<DocsUiConfig>({
  name: 'docs-ui',
  config: {
    section: {
      type: 'object',
      additionalProperties: false,
      properties: {
        access: { enum: ['public', 'caller'], default: 'public', description: 'Who may open /docs, its assets, / and /openapi.json.' },
      },
    },
  },
  register(ctx) {
    // Swagger UI needs its files; fail at start-up, naming the package, rather than on the first page view.
    try { asset('swagger-ui-bundle.js'); } catch (e) {
      throw new Error(`cannot read swagger-ui-dist (is it installed?): ${(e as Error).message}`);
    }
    const access: RouteAccess = ctx.config?.access === 'caller' ? 'caller' : 'public';
    // Pages per header: the routes of a configuration do not change, but they are only all
    // mounted once every plugin registered, so the header is decided on the first view.
    const pages = new Map<string, string>();
    const page = (gw: GatewayApi) => {
      const links = pageLinks(gw);
      const key = links.map((l) => l.href).join(' ');
      let html = pages.get(key);
      if (!html) { html = docsPage({ links }); pages.set(key, html); }
      return html;
    };
    ctx.route({ method: 'GET', path: '/', access, handler: async (): Promise<RouteResult> => ({ redirect: '/docs', status: 307 }) });
    ctx.route({
      method: 'GET', path: '/docs', access,
      handler: async (_req, gw) => ({ headers: NO_CACHE, text: page(gw), contentType: 'text/html; charset=utf-8' }),
    });
    ctx.route({
      method: 'GET', path: '/docs/assets/:file', access,
      handler: async (req) => {
        const file = req.params.file ?? '';
        const type = Object.hasOwn(ASSETS, file) ? ASSETS[file] : undefined;
        if (!type) throw new GatewayError('GW_ERR_ROUTE_NOT_FOUND', 'Not Found');
        return { headers: { 'cache-control': 'public, max-age=86400' }, text: asset(file), contentType: type };
      },
    });
    ctx.route({
      method: 'GET', path: '/favicon.ico', access,
      handler: async () => ({ headers: { 'cache-control': 'public, max-age=86400' }, text: asset('favicon-32x32.png'), contentType: 'image/png' }),
    });
    ctx.route({
      method: 'GET', path: '/openapi.json', access,
      // Built per request from the live gateway: a reloaded config is described at once.
      handler: async (_req, gw) => ({ headers: NO_CACHE, json: buildOpenAPI(gw, { version: gw.version }) }),
    });
  },
});
