import { readFileSync } from 'node:fs';
import type { EndpointType, Logger, ProviderInstance } from '@gatehouse/sdk';
import { createProviderInstance, silentLogger } from '@gatehouse/sdk/testing';
import provider, { type GeminiConfig } from '../src/index.js';

export const fixture = (name: string): any =>
  JSON.parse(readFileSync(new URL(`./fixtures/${name}`, import.meta.url), 'utf8'));

export const logger: Logger = silentLogger;

export { testCall as call } from '@gatehouse/sdk/testing';

export function instance(baseUrl: string, endpointType: EndpointType = 'llm/v1/chat', modelName = 'gemini-2.0-flash', extra: Partial<GeminiConfig> = {}): ProviderInstance {
  return createProviderInstance(provider, { config: { gemini_api_key: 'test-key', gemini_api_base: `${baseUrl}/v1beta/models`, ...extra }, model: modelName, endpointType });
}

/** Encode events as Gemini writes them: `data: <json>` followed by a blank line, CRLF line ends. */
export const geminiSse = (events: unknown[]): string => events.map((e) => `data: ${JSON.stringify(e)}\r\n\r\n`).join('');
