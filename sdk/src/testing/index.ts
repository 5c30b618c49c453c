export * from './fake-upstream.js';
export * from './conformance.js';
