import { defineConfig } from 'vitest/config';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));

export default defineConfig({
  root,
  // Workspace packages resolve to their TypeScript sources. Vite's default server conditions include
  // `module`, which makes Node pick the AWS SDK's extensionless ESM builds and fail; plain Node does
  // not use it, so neither do the tests.
  ssr: { resolve: { conditions: ['@gatehouse/source', 'node', 'development'] } },
  test: {
    include: ['test/**/*.test.ts', 'core/test/**/*.test.ts', 'sdk/test/**/*.test.ts', 'plugins/*/test/**/*.test.ts', 'examples/*/test/**/*.test.ts'],
    exclude: ['**/node_modules/**', '**/dist/**'],
    setupFiles: [fileURLToPath(new URL('./vitest.setup.ts', import.meta.url))],
    testTimeout: 20_000,
    hookTimeout: 30_000,
    pool: 'forks',
  },
});
