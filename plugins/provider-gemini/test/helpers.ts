import { readFileSync } from 'node:fs';
import { createHttpClient, type EndpointType, type Logger, type ProviderInstance } from '@gatehouse/sdk';
import provider, { type GeminiConfig } from '../src/index.js';

export const fixture = (name: string): any =>
  JSON.parse(readFileSync(new URL(`./fixtures/${name}`, import.meta.url), 'utf8'));

const noop = () => {};
export const logger: Logger = { debug: noop, info: noop, warn: noop, error: noop, child: () => logger };

export const call = () => ({ signal: new AbortController().signal });

export function instance(baseUrl: string, endpointType: EndpointType = 'llm/v1/chat', modelName = 'gemini-2.0-flash', extra: Partial<GeminiConfig> = {}): ProviderInstance {
  return provider.create({
    config: { gemini_api_key: 'test-key', gemini_api_base: `${baseUrl}/v1beta/models`, ...extra },
    model: { name: modelName, provider: 'gemini' },
    endpoint: { name: 'e', endpoint_type: endpointType },
    http: createHttpClient(),
    logger,
    timeoutMs: 5000,
  });
}

/** Encode events as Gemini writes them: `data: <json>` followed by a blank line, CRLF line ends. */
export const geminiSse = (events: unknown[]): string => events.map((e) => `data: ${JSON.stringify(e)}\r\n\r\n`).join('');
