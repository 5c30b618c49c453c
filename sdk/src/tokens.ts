/** Service tokens the kernel provides to every plugin. */
import { createServiceToken } from './plugin.js';
import type { Clock, GatewayApi, Logger } from './plugin.js';
import type { HttpClient } from './http.js';

export const Tokens = {
  Logger: createServiceToken<Logger>('core.logger'),
  Clock: createServiceToken<Clock>('core.clock'),
  HttpClient: createServiceToken<HttpClient>('core.http-client'),
  Gateway: createServiceToken<GatewayApi>('core.gateway'),
  /** Where the running configuration came from (endpoints and routes: `Gateway`; a plugin's own section: `ctx.config`). */
  Config: createServiceToken<Readonly<{ file: string }>>('core.config'),
} as const;
