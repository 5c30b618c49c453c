export * from './fake-upstream.js';
export * from './conformance.js';
export * from './provider-kit.js';
export * from './gateway.js';
export * from './fakes.js';
