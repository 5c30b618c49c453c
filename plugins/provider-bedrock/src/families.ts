/**
 * Completions through InvokeModel: the request and response bodies of each model family
 * (spec §11.6). Pure functions; the family is chosen from the model id.
 */
import { completionsResponse, GatewayError, nowSeconds, paramError, type CompletionsRequest, type CompletionsResponse } from '@gatehouse/sdk';

type Json = any;

export type Family = 'amazon' | 'cohere' | 'ai21' | 'anthropic';
/** MLflow's matching order. */
export const FAMILIES: readonly Family[] = ['amazon', 'cohere', 'ai21', 'anthropic'];

const ANTHROPIC_DEFAULT_MAX_TOKENS = 8192;
const ANTHROPIC_MAXIMUM_MAX_TOKENS = 1_000_000;
/** Bedrock's cap for Claude text completions. */
export const BEDROCK_ANTHROPIC_MAXIMUM_MAX_TOKENS = 8191;
export const BEDROCK_ANTHROPIC_VERSION = 'bedrock-2023-05-31';

/**
 * The family of a model id: it must contain a `.`, and the first family name found in it wins
 * (so `us.anthropic.claude-v2:1` is anthropic).
 */
export function modelFamily(modelId: string | null | undefined): Family | null {
  if (!modelId || !modelId.includes('.')) return null;
  const lower = modelId.toLowerCase();
  return FAMILIES.find((f) => lower.includes(f)) ?? null;
}

export function unknownFamily(modelId: string | null | undefined): GatewayError {
  return paramError(`Unknown Amazon Bedrock model type for model '${modelId ?? ''}'. The model id must contain one of: ${FAMILIES.join(', ')}.`);
}

/**
 * The request without nulls (MLflow's `exclude_none` + `exclude_defaults`, now that no parameter
 * has a default): what the caller did not set is not sent. `n: 1` is dropped too: one result is
 * what every family gives without it, and Titan and Claude refuse any `n`. A temperature the
 * caller set, 0 included, is sent.
 */
export function withoutDefaults(req: CompletionsRequest): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(req)) {
    if (v === null || v === undefined) continue;
    if (k === 'n' && v === 1) continue;
    if (k === 'stream' || k === 'stream_options' || k === 'model') continue;
    out[k] = v;
  }
  return out;
}

function rename(p: Record<string, unknown>, map: Record<string, string>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(p)) out[map[k] ?? k] = v;
  return out;
}

function anthropicPrompt(prompt: string): string {
  let p = prompt;
  if (p.startsWith('Human: ')) p = '\n\n' + p;
  if (!p.startsWith('\n\nHuman: ')) p = '\n\nHuman: ' + p;
  if (!p.endsWith('\n\nAssistant:')) p = p + '\n\nAssistant:';
  return p;
}

function anthropicBody(p: Record<string, unknown>): Record<string, unknown> {
  // Only the pair is refused now that an omitted temperature is not sent (MLflow refused any top_p).
  if ('top_p' in p && 'temperature' in p) {
    throw paramError("Cannot set both 'temperature' and 'top_p' parameters. Please use only the temperature parameter for your query.", 'top_p');
  }
  const maxTokens = (p.max_tokens as number | undefined) ?? ANTHROPIC_DEFAULT_MAX_TOKENS;
  if (maxTokens > ANTHROPIC_MAXIMUM_MAX_TOKENS) throw paramError(`Invalid value for max_tokens: cannot exceed ${ANTHROPIC_MAXIMUM_MAX_TOKENS}.`, 'max_tokens');
  if ('n' in p) throw paramError(`'n' must be '1' for the Anthropic provider. Received value: '${p.n}'.`, 'n');
  const { prompt, max_tokens: _m, temperature, stop, n: _n, ...rest } = p;
  const stops = [...((stop as string[] | undefined) ?? [])];
  if (!stops.includes('\n\nHuman:')) stops.push('\n\nHuman:');
  const body: Record<string, unknown> = {
    prompt: anthropicPrompt(prompt as string),
    max_tokens_to_sample: Math.min(maxTokens, BEDROCK_ANTHROPIC_MAXIMUM_MAX_TOKENS),
  };
  if (temperature !== undefined) body.temperature = (temperature as number) * 0.5;
  body.stop_sequences = stops;
  Object.assign(body, rest);
  body.anthropic_version = BEDROCK_ANTHROPIC_VERSION;
  return body;
}

function titanBody(p: Record<string, unknown>): Record<string, unknown> {
  if ('n' in p) throw paramError(`'n' must be '1' for AWS Titan models. Received value: '${p.n}'.`, 'n');
  const { prompt, temperature, ...rest } = p;
  const config: Record<string, unknown> = {};
  // Titan's temperature range is 0-1, ours 0-2.
  if (temperature !== undefined) config.temperature = (temperature as number) * 0.5;
  Object.assign(config, rename(rest, { max_tokens: 'maxTokenCount', stop: 'stopSequences', top_p: 'topP' }));
  return { inputText: prompt, textGenerationConfig: config };
}

function ai21Body(p: Record<string, unknown>): Record<string, unknown> {
  return rename(p, { stop: 'stopSequences', n: 'numResults', max_tokens: 'maxTokens', top_p: 'topP' });
}

const COHERE_NATIVE: Record<string, string> = { stop_sequences: 'stop', num_generations: 'n' };

function cohereBody(p: Record<string, unknown>): Record<string, unknown> {
  for (const [native, ours] of Object.entries(COHERE_NATIVE)) {
    if (native in p) throw new GatewayError('GW_ERR_REQUEST_BAD', `Invalid parameter ${native}. Use ${ours} instead.`, { param: native });
  }
  const out = rename(p, { stop: 'stop_sequences', n: 'num_generations', top_p: 'p', top_k: 'k' });
  // Cohere's temperature range is 0-5, ours 0-2.
  if (typeof out.temperature === 'number' && out.temperature) out.temperature = out.temperature * 2.5;
  return out;
}

/** The InvokeModel body for a completions request. */
export function toInvokeBody(family: Family, req: CompletionsRequest): Record<string, unknown> {
  const p = withoutDefaults(req);
  switch (family) {
    case 'anthropic': return anthropicBody(p);
    case 'amazon': return titanBody(p);
    case 'ai21': return ai21Body(p);
    case 'cohere': return cohereBody(p);
  }
}

const TITAN_FINISH: Record<string, string> = { FINISH: 'stop', LENGTH: 'length', STOP_CRITERIA_MET: 'stop', RAG_QUERY_WHEN_RAG_DISABLED: 'stop', CONTENT_FILTERED: 'content_filter' };
const COHERE_FINISH: Record<string, string> = { COMPLETE: 'stop', MAX_TOKENS: 'length', ERROR_TOXIC: 'content_filter', ERROR_LIMIT: 'length' };
const AI21_FINISH: Record<string, string> = { endoftext: 'stop', stop: 'stop', length: 'length' };

/** Token counts Bedrock reports in the `x-amzn-bedrock-*-token-count` response headers. */
export interface HeaderUsage { prompt_tokens?: number | null; completion_tokens?: number | null }

/** The unified completions response for an InvokeModel answer; `model` is the endpoint's model id. */
export function fromInvokeBody(family: Family, js: Json, model: string, headerUsage: HeaderUsage = {}): CompletionsResponse {
  const base = { id: null, created: nowSeconds(), model };
  switch (family) {
    case 'anthropic':
      return completionsResponse({
        ...base,
        choices: [{ index: 0, text: js.completion ?? '', finish_reason: js.stop_reason === 'stop_sequence' ? 'stop' : 'length' }],
        usage: headerUsage,
      });
    case 'amazon': {
      const results: Json[] = js.results ?? [];
      const completion = results.every((r) => typeof r.tokenCount === 'number') && results.length
        ? results.reduce((s, r) => s + r.tokenCount, 0) : null;
      return completionsResponse({
        ...base,
        choices: results.map((r, i) => ({ index: i, text: r.outputText ?? '', finish_reason: TITAN_FINISH[r.completionReason] ?? null })),
        usage: {
          prompt_tokens: headerUsage.prompt_tokens ?? js.inputTextTokenCount ?? null,
          completion_tokens: headerUsage.completion_tokens ?? completion,
        },
      });
    }
    case 'ai21':
      return completionsResponse({
        ...base,
        choices: (js.completions ?? []).map((c: Json, i: number) => ({
          index: i, text: c.data?.text ?? '', finish_reason: AI21_FINISH[c.finishReason?.reason] ?? c.finishReason?.reason ?? null,
        })),
        usage: headerUsage,
      });
    case 'cohere':
      return completionsResponse({
        ...base,
        choices: (js.generations ?? []).map((g: Json, i: number) => ({
          index: i, text: g.text ?? '', finish_reason: COHERE_FINISH[g.finish_reason] ?? g.finish_reason ?? null,
        })),
        usage: headerUsage,
      });
  }
}
