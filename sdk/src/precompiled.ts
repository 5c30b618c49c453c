/**
 * The request validators compiled ahead of time. Compiling the chat request schema with Ajv takes
 * 26–45 ms, which the first request after every start (and in every worker) paid. `npm run build`
 * writes them as standalone code (Ajv's `standaloneCode`) to `dist/request-validators.cjs` with
 * `sdk/precompile.mjs`; loading that file and running a validator the first time takes 10–15 ms.
 * The file carries a fingerprint of what it was made from (the schemas, Ajv's options and
 * version): a file that does not match is not used, and the validators are compiled as before.
 */
import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import type { ValidateFunction } from 'ajv';
import { requestSchemas } from './schemas.js';
import type { EndpointType } from './types.js';

// strictNumbers: NaN and ±Infinity (JSON's `1e400`) are not numbers, let alone integers.
// validateSchema: false — these schemas are the sdk's own constants, checked against the meta-schema
// by test/hardening-validation.test.ts; checking them here compiled the meta-schema (~13 ms) at the first request.
export const AJV_OPTIONS = { allErrors: true, useDefaults: true, strict: false, strictNumbers: true, validateSchema: false } as const;

/** The precompiled module beside the built sdk. */
export const PRECOMPILED_FILE = 'request-validators.cjs';

/** The export name of an endpoint type's validator in the module (`llm/v1/chat` → `llm_v1_chat`). */
export const exportName = (type: EndpointType): string => type.replace(/\W/g, '_');

const require = createRequire(import.meta.url);

/** What a precompiled module must have been made from to be used. */
export function fingerprint(): string {
  const ajvVersion = (require('ajv/package.json') as { version: string }).version;
  return createHash('sha256').update(JSON.stringify({ ajvVersion, options: AJV_OPTIONS, schemas: requestSchemas })).digest('hex');
}

/**
 * The precompiled validators, or null when there are none beside this module (running from
 * sources) or they were made from other schemas, options or Ajv version.
 */
export function loadPrecompiled(file: string = fileURLToPath(new URL(PRECOMPILED_FILE, import.meta.url))): Partial<Record<EndpointType, ValidateFunction>> | null {
  let mod: Record<string, unknown>;
  try { mod = require(file) as Record<string, unknown>; } catch { return null; }
  if (mod.fingerprint !== fingerprint()) return null;
  const out: Partial<Record<EndpointType, ValidateFunction>> = {};
  for (const type of Object.keys(requestSchemas) as EndpointType[]) {
    const v = mod[exportName(type)];
    if (typeof v !== 'function') return null;
    out[type] = v as ValidateFunction;
  }
  return out;
}
