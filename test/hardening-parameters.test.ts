/**
 * Issue 13 item 4 (part): MLflow 3.11 no longer defaults `temperature` and `n`. A parameter the
 * caller omitted is not sent upstream by any provider (under any of its names), and one the
 * caller set is.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Capability, ProviderDefinition } from '@gatehouse/sdk';
import { createProviderInstance, startFakeUpstream, type FakeUpstream } from '@gatehouse/sdk/testing';
import openai from '../plugins/provider-openai/src/index.js';
import mistral from '../plugins/provider-mistral/src/index.js';
import togetherai from '../plugins/provider-togetherai/src/index.js';
import tgi from '../plugins/provider-huggingface-tgi/src/index.js';
import anthropic from '../plugins/provider-anthropic/src/index.js';
import gemini from '../plugins/provider-gemini/src/index.js';
import cohere from '../plugins/provider-cohere/src/index.js';
import bedrock from '../plugins/provider-bedrock/src/index.js';
import ai21labs from '../plugins/provider-ai21labs/src/index.js';
import mlflowServing from '../plugins/provider-mlflow-model-serving/src/index.js';
import mosaicml from '../plugins/provider-mosaicml/src/index.js';
import palm from '../plugins/provider-palm/src/index.js';

/** Every upstream name of `temperature` and `n`. */
const TEMPERATURE = ['temperature'];
const N = ['n', 'candidateCount', 'num_generations', 'numResults'];

type Cap = Extract<Capability, 'chat' | 'chatStream' | 'completions' | 'completionsStream'>;
interface Case { def: ProviderDefinition; model: string; config(url: string): Record<string, unknown>; caps: Array<[Cap, string, Record<string, unknown>?]> }

const CASES: Case[] = [
  { def: openai, model: 'gpt', config: (u) => ({ openai_api_key: 'k', openai_api_base: `${u}/v1` }), caps: [['chat', '/v1/chat/completions'], ['chatStream', '/v1/chat/completions'], ['completions', '/v1/completions'], ['completionsStream', '/v1/completions']] },
  { def: mistral, model: 'mis', config: (u) => ({ mistral_api_key: 'k', mistral_api_base: `${u}/v1` }), caps: [['chat', '/v1/chat/completions'], ['chatStream', '/v1/chat/completions'], ['completions', '/v1/chat/completions']] },
  { def: togetherai, model: 'tg', config: (u) => ({ togetherai_api_key: 'k', togetherai_api_base: `${u}/v1` }), caps: [['chat', '/v1/chat/completions'], ['chatStream', '/v1/chat/completions'], ['completions', '/v1/completions', { max_tokens: 5 }], ['completionsStream', '/v1/completions', { max_tokens: 5 }]] },
  { def: tgi, model: 'tgi', config: (u) => ({ hf_server_url: u }), caps: [['chat', '/v1/chat/completions'], ['chatStream', '/v1/chat/completions'], ['completions', '/generate'], ['completionsStream', '/generate_stream']] },
  { def: anthropic, model: 'claude', config: (u) => ({ anthropic_api_key: 'k', anthropic_api_base: `${u}/v1` }), caps: [['chat', '/v1/messages'], ['chatStream', '/v1/messages'], ['completions', '/v1/complete']] },
  { def: gemini, model: 'gem', config: (u) => ({ gemini_api_key: 'k', gemini_api_base: `${u}/m` }), caps: [['chat', '/m/gem:generateContent'], ['chatStream', '/m/gem:streamGenerateContent'], ['completions', '/m/gem:generateContent'], ['completionsStream', '/m/gem:streamGenerateContent']] },
  { def: cohere, model: 'command', config: (u) => ({ cohere_api_key: 'k', cohere_api_base: `${u}/v1` }), caps: [['chat', '/v1/chat'], ['chatStream', '/v1/chat'], ['completions', '/v1/generate'], ['completionsStream', '/v1/generate']] },
  { def: bedrock, model: 'anthropic.claude-v2', config: (u) => ({ aws_config: { aws_access_key_id: 'AKID', aws_secret_access_key: 'secret', aws_region: 'us-east-1' }, bedrock_endpoint_url: u }), caps: [['chat', '/model/anthropic.claude-v2/converse'], ['chatStream', '/model/anthropic.claude-v2/converse-stream'], ['completions', '/model/anthropic.claude-v2/invoke']] },
  { def: bedrock, model: 'amazon.titan-text-express-v1', config: (u) => ({ aws_config: { aws_access_key_id: 'AKID', aws_secret_access_key: 'secret', aws_region: 'us-east-1' }, bedrock_endpoint_url: u }), caps: [['completions', '/model/amazon.titan-text-express-v1/invoke']] },
  { def: ai21labs, model: 'j2-mid', config: (u) => ({ ai21labs_api_key: 'k', ai21labs_api_base: u }), caps: [['completions', '/j2-mid/complete']] },
  { def: mlflowServing, model: 'served', config: (u) => ({ model_server_url: u }), caps: [['chat', '/invocations'], ['completions', '/invocations']] },
  { def: mosaicml, model: 'llama2-70b-chat', config: (u) => ({ mosaicml_api_key: 'k', mosaicml_api_base: u }), caps: [['chat', '/llama2-70b-chat/v1/predict'], ['completions', '/llama2-70b-chat/v1/predict']] },
  { def: palm, model: 'bison', config: (u) => ({ palm_api_key: 'k', palm_api_base: u }), caps: [['chat', '/bison:generateMessage'], ['completions', '/bison:generateText']] },
];

/** The keys found anywhere in a JSON value. */
function keysIn(v: unknown, out = new Set<string>()): Set<string> {
  if (Array.isArray(v)) v.forEach((x) => keysIn(x, out));
  else if (v && typeof v === 'object') for (const [k, x] of Object.entries(v)) { out.add(k); keysIn(x, out); }
  return out;
}

let up: FakeUpstream;
beforeAll(async () => { up = await startFakeUpstream(); });
afterAll(async () => { await up.close(); });

/** What the upstream received for one call (its answer does not matter here). */
async function sent(c: Case, cap: Cap, path: string, params: Record<string, unknown>): Promise<unknown> {
  up.reset();
  up.on(path, { status: 400, json: { error: { message: 'recorded' } } });
  const inst = createProviderInstance(c.def, { config: c.config(up.url), model: c.model, endpointType: cap.startsWith('chat') ? 'llm/v1/chat' : 'llm/v1/completions' }) as Record<string, any>;
  const base = cap.startsWith('chat') ? { messages: [{ role: 'user', content: 'Hi' }] } : { prompt: 'Hi' };
  const req = { ...base, ...params, ...(cap.endsWith('Stream') ? { stream: true } : {}) };
  const out = inst[cap](req, { signal: new AbortController().signal });
  try {
    if (out && typeof out === 'object' && Symbol.asyncIterator in out) { for await (const _ of out) { /* drain */ } } else await out;
  } catch { /* the fake upstream refuses; only the request counts */ }
  expect(up.requests.length).toBe(1);
  return up.last().json;
}

describe.each(CASES.map((c) => [`${c.def.name} (${c.model})`, c] as const))('%s', (_name, c) => {
  it.each(c.caps)('%s: an omitted temperature and n are not sent; set ones are', async (cap, path, extra = {}) => {
    const bare = keysIn(await sent(c, cap, path, extra));
    for (const k of [...TEMPERATURE, ...N]) expect(bare.has(k), `'${k}' sent upstream though the caller omitted it`).toBe(false);
    const set = keysIn(await sent(c, cap, path, { ...extra, temperature: 0.4 }));
    expect(set.has('temperature')).toBe(true);
  });
});
