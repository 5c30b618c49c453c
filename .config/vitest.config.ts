import { defineConfig } from 'vitest/config';
import { defaultServerConditions } from 'vite';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));

export default defineConfig({
  root,
  ssr: { resolve: { conditions: ['@gatehouse/source', ...defaultServerConditions] } },
  test: {
    include: ['test/**/*.test.ts', 'core/test/**/*.test.ts', 'sdk/test/**/*.test.ts', 'plugins/*/test/**/*.test.ts', 'examples/*/test/**/*.test.ts'],
    exclude: ['**/node_modules/**', '**/dist/**'],
    setupFiles: [fileURLToPath(new URL('./vitest.setup.ts', import.meta.url))],
    testTimeout: 20_000,
    hookTimeout: 30_000,
    pool: 'forks',
  },
});
