/**
 * @gatehouse/sdk — everything a Gatehouse plugin or provider author imports.
 * No tsyringe, no decorators: plain objects and functions.
 */
export * from './types.js';
export * from './build.js';
export * from './errors.js';
export * from './schemas.js';
export * from './plugin.js';
export * from './base-provider.js';
export * from './pipeline.js';
export * from './http.js';
export * from './sse.js';
export * from './openai-compatible.js';
export * from './json.js';
export * from './validate.js';
export { foldMaxCompletionTokens } from './params.js';
