import 'reflect-metadata';

export { startGateway, resolveHostDir, VERSION, type StartOptions, type RunningGateway } from './server/server.js';
export { buildGeneration, type Generation } from './generation.js';
export { loadConfigFile, loadConfigText, type GatewayConfig, type EndpointConfig } from './config/load.js';
export { StartupError, type ConfigProblem } from './config/errors.js';
export { discover, findHostDir, normaliseName, type Discovery, type ManifestEntry } from './plugins/discovery.js';
export { createLogger, type LogLevel } from './logger.js';
export { Services } from './container.js';
export { main } from './cli.js';
