/** Service tokens the kernel provides to every plugin. */
import { createServiceToken } from './plugin.js';
import type { Clock, GatewayApi, Logger } from './plugin.js';
import type { HttpClient } from './http.js';

export const Tokens = {
  Logger: createServiceToken<Logger>('core.logger'),
  Clock: createServiceToken<Clock>('core.clock'),
  HttpClient: createServiceToken<HttpClient>('core.http-client'),
  Gateway: createServiceToken<GatewayApi>('core.gateway'),
  /** The whole validated config file (read-only). */
  Config: createServiceToken<Readonly<Record<string, unknown>>>('core.config'),
} as const;
