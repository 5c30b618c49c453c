import 'reflect-metadata';
import { existsSync } from 'node:fs';

// Tests run the workspace from its TypeScript sources: plugins found through their manifests
// (`./dist/index.js`) load from `src/` too, so a test never runs stale builds. The kernel's loader
// reads this hook (core/src/plugins/load.ts); shipped gateways never set it.
(globalThis as Record<symbol, unknown>)[Symbol.for('gatehouse.moduleResolver')] = (file: string): string => {
  const src = file.replace(/([\\/])dist([\\/])(.*)\.js$/, '$1src$2$3.ts');
  return src !== file && existsSync(src) ? src : file;
};
