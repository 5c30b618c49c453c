#!/usr/bin/env node
/**
 * Build step (after `tsc -b`): write the request validators as standalone code to
 * dist/request-validators.cjs, so no process compiles them at its first request. See src/precompiled.ts.
 *
 *   node sdk/precompile.mjs [OUT_FILE]     (default: sdk/dist/request-validators.cjs)
 */
import { writeFileSync, renameSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Ajv } from 'ajv';
import standalone from 'ajv/dist/standalone/index.js';
import { requestSchemas } from './dist/schemas.js';
import { AJV_OPTIONS, PRECOMPILED_FILE, exportName, fingerprint } from './dist/precompiled.js';

const ajv = new Ajv({ ...AJV_OPTIONS, code: { source: true } });
const names = {};
for (const [type, schema] of Object.entries(requestSchemas)) {
  ajv.addSchema(schema, type);
  names[exportName(type)] = type;
}
const code = `${standalone.default(ajv, names)}\nexports.fingerprint = ${JSON.stringify(fingerprint())};\n`;
const file = process.argv[2] ? resolve(process.argv[2]) : fileURLToPath(new URL(`./dist/${PRECOMPILED_FILE}`, import.meta.url));
writeFileSync(`${file}.tmp`, code);
renameSync(`${file}.tmp`, file);
