import { readFileSync } from 'node:fs';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { isGatewayError, type ChatRequest, type CompletionsRequest } from '@gatehouse/sdk';
import { authMode, resolveRegion, validateConfig } from '../src/config.js';
import { ConverseChatStream, finishReason, fromConverse, toConverse } from '../src/converse.js';
import { bedrockHttpError, bedrockStreamException, errorTypeName } from '../src/errors.js';
import { fromInvokeBody, modelFamily, toInvokeBody, withoutDefaults, type Family } from '../src/families.js';

const json = (name: string) => JSON.parse(readFileSync(new URL(`./fixtures/${name}`, import.meta.url), 'utf8'));
const thrown = (fn: () => unknown) => { try { fn(); } catch (e) { return e as any; } throw new Error('did not throw'); };
const cmpl = (over: Partial<CompletionsRequest> = {}): CompletionsRequest => ({ prompt: 'Hi', temperature: 0, n: 1, ...over });

beforeEach(() => { vi.useFakeTimers({ toFake: ['Date'] }); vi.setSystemTime(1_700_000_000_000); });
afterEach(() => { vi.useRealTimers(); });

describe('model families', () => {
  it.each([
    ['amazon.titan-text-express-v1', 'amazon'],
    ['cohere.command-text-v14', 'cohere'],
    ['ai21.j2-ultra-v1', 'ai21'],
    ['anthropic.claude-v2:1', 'anthropic'],
    ['us.anthropic.claude-v2:1', 'anthropic'],
    ['meta.llama3-8b-instruct-v1:0', null],
    ['anthropic', null],
    [null, null],
  ])('%s -> %s', (id, family) => { expect(modelFamily(id)).toBe(family); });

  it('drops nulls and n 1, and keeps a temperature the caller set, 0 included (no defaults since MLflow 3.11)', () => {
    expect(withoutDefaults({ prompt: 'x', temperature: 0, n: 1, stop: null, max_tokens: 5, stream: false })).toEqual({ prompt: 'x', temperature: 0, max_tokens: 5 });
    expect(withoutDefaults({ prompt: 'x', n: 2 })).toEqual({ prompt: 'x', n: 2 });
  });

  it.each(['anthropic', 'amazon', 'ai21', 'cohere'] as Family[])('%s: request and response (golden, key order)', (family) => {
    const f = json('families.json')[family];
    expect(modelFamily(f.model)).toBe(family);
    const body = toInvokeBody(family, f.request);
    expect(body).toEqual(f.upstream);
    expect(JSON.stringify(body)).toBe(JSON.stringify(f.upstream));
    const out = fromInvokeBody(family, f.response, f.model);
    expect(out).toEqual(f.unified);
    expect(JSON.stringify(out)).toBe(JSON.stringify(f.unified));
  });

  it('sends no temperature and default max tokens to Claude when the client gave none', () => {
    const bare: CompletionsRequest = { prompt: 'Hi' };
    expect(toInvokeBody('anthropic', bare)).toEqual({
      prompt: '\n\nHuman: Hi\n\nAssistant:', max_tokens_to_sample: 8191, stop_sequences: ['\n\nHuman:'], anthropic_version: 'bedrock-2023-05-31',
    });
    expect(toInvokeBody('amazon', bare)).toEqual({ inputText: 'Hi', textGenerationConfig: {} });
    expect(toInvokeBody('amazon', cmpl())).toEqual({ inputText: 'Hi', textGenerationConfig: { temperature: 0 } });
  });

  it('Claude: top_p alone is forwarded; only top_p with a temperature is refused', () => {
    expect(toInvokeBody('anthropic', { prompt: 'Hi', top_p: 0.3 })).toMatchObject({ top_p: 0.3 });
  });

  it('prefers the token-count headers for usage', () => {
    const out = fromInvokeBody('anthropic', { completion: 'x', stop_reason: 'max_tokens' }, 'anthropic.claude-v2', { prompt_tokens: 4, completion_tokens: 9 });
    expect(out.usage).toEqual({ prompt_tokens: 4, completion_tokens: 9, total_tokens: 13 });
    expect(out.choices[0]!.finish_reason).toBe('length');
  });

  it.each([
    ['anthropic', { top_p: 0.3 }, 422, "Cannot set both 'temperature' and 'top_p' parameters. Please use only the temperature parameter for your query."],
    ['anthropic', { n: 2 }, 422, "'n' must be '1' for the Anthropic provider. Received value: '2'."],
    ['anthropic', { max_tokens: 1_000_001 }, 422, 'Invalid value for max_tokens: cannot exceed 1000000.'],
    ['amazon', { n: 3 }, 422, "'n' must be '1' for AWS Titan models. Received value: '3'."],
    ['cohere', { stop_sequences: ['x'] }, 400, 'Invalid parameter stop_sequences. Use stop instead.'],
    ['cohere', { num_generations: 2 }, 400, 'Invalid parameter num_generations. Use n instead.'],
  ] as Array<[Family, Partial<CompletionsRequest>, number, string]>)('%s rejects %j', (family, over, status, message) => {
    const e = thrown(() => toInvokeBody(family, cmpl(over)));
    expect(isGatewayError(e)).toBe(true);
    expect(e.status).toBe(status);
    expect(e.message).toBe(message);
  });
});

describe('converse chat', () => {
  it('maps the request: system, tool calls, tool results merged into the user turn, images, tools (golden, key order)', () => {
    const f = json('converse.json');
    const body = toConverse(f.request);
    expect(body).toEqual(f.upstream);
    expect(JSON.stringify(body)).toBe(JSON.stringify(f.upstream));
  });

  it('maps the response (golden, key order)', () => {
    const f = json('converse.json');
    const out = fromConverse(f.response, 'anthropic.claude-3-haiku-20240307-v1:0', '5d5a6b2e-0c6f-4b3a-9d8e-1f2a3b4c5d6e');
    expect(JSON.stringify(out)).toBe(JSON.stringify(f.unified));
  });

  it('sends the halved temperature even when it is the default, and nothing else unasked', () => {
    const req: ChatRequest = { messages: [{ role: 'user', content: 'hi' }], temperature: 0, n: 1 };
    expect(toConverse(req)).toEqual({ messages: [{ role: 'user', content: [{ text: 'hi' }] }], inferenceConfig: { temperature: 0 } });
  });

  it('omits a missing tool description and maps tool_choice none/auto/required', () => {
    const tools = [{ type: 'function' as const, function: { name: 'f' } }];
    const tc = (tool_choice: unknown) => (toConverse({ messages: [{ role: 'user', content: 'x' }], temperature: 0, n: 1, tools, tool_choice }).toolConfig as any);
    expect(tc(undefined)).toEqual({ tools: [{ toolSpec: { name: 'f', inputSchema: { json: { type: 'object', properties: {} } } } }] });
    expect(tc('none').toolChoice).toBeUndefined();
    expect(tc('auto').toolChoice).toEqual({ auto: {} });
    expect(tc('required').toolChoice).toEqual({ any: {} });
  });

  it.each([
    [{ n: 2 }, "'n' must be '1' for Amazon Bedrock chat. Received value: '2'."],
    [{ messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: 'https://x/y.png' } }] }] }, 'Amazon Bedrock accepts images as base64 data URLs of type png, jpeg, gif or webp.'],
    [{ tools: [{ type: 'uc_function', uc_function: { name: 'u' } }] }, "Only tools of type 'function' are supported by Amazon Bedrock, got 'uc_function'."],
  ] as Array<[Partial<ChatRequest>, string]>)('rejects %j with 422', (over, message) => {
    const e = thrown(() => toConverse({ messages: [{ role: 'user', content: 'x' }], temperature: 0, n: 1, ...over }));
    expect(e.status).toBe(422);
    expect(e.message).toBe(message);
  });

  it('maps stop reasons', () => {
    expect(['end_turn', 'stop_sequence', 'max_tokens', 'tool_use', 'guardrail_intervened', 'content_filtered', undefined].map(finishReason))
      .toEqual(['stop', 'stop', 'length', 'tool_calls', 'content_filter', 'content_filter', null]);
  });

  it('maps stream events; the finish chunk waits for metadata to carry usage (golden)', () => {
    const f = json('converse-stream.json');
    const mapper = new ConverseChatStream('anthropic.claude-3-haiku-20240307-v1:0', 'req-1');
    const chunks = [];
    for (const [type, payload] of f.events) chunks.push(...mapper.push(type, payload));
    chunks.push(...mapper.end());
    expect(JSON.stringify(chunks)).toBe(JSON.stringify(f.expected));
  });

  it('finishes without usage when metadata never comes, and fails a stream cut before messageStop', () => {
    const m = new ConverseChatStream('m');
    m.push('contentBlockDelta', { contentBlockIndex: 0, delta: { text: 'hi' } });
    m.push('messageStop', { stopReason: 'max_tokens' });
    const [last] = m.end();
    expect(last!.choices[0]!.finish_reason).toBe('length');
    expect(last!.usage).toBeUndefined();
    const cut = new ConverseChatStream('m');
    cut.push('contentBlockDelta', { contentBlockIndex: 0, delta: { text: 'hi' } });
    expect(thrown(() => cut.end()).code).toBe('GW_ERR_UPSTREAM_TRUNCATED');
  });
});

describe('errors', () => {
  it('maps Bedrock error bodies with their status and x-amzn-ErrorType', () => {
    const e = bedrockHttpError(400, 'ValidationException:http://internal.amazon.com/coral/com.amazon.bedrock/', '{"message":"Malformed input request"}');
    expect([e.status, e.detail, e.code]).toEqual([400, 'Malformed input request', 'GW_ERR_UPSTREAM_STATUS']);
    expect(bedrockHttpError(403, 'AccessDeniedException', '{"Message":"not authorized"}').detail).toBe('not authorized');
    expect(bedrockHttpError(503, 'ServiceUnavailableException:http://x/', '').detail).toBe('ServiceUnavailableException (status 503)');
    expect(errorTypeName('ThrottlingException:http://internal.amazon.com/coral/com.amazon.bedrock/')).toBe('ThrottlingException');
  });

  it('maps stream exceptions to statuses', () => {
    expect(bedrockStreamException('throttlingException', { message: 'Too many requests' })).toMatchObject({ status: 429, message: 'Too many requests' });
    expect(bedrockStreamException('modelStreamErrorException', { message: 'x', originalStatusCode: 500 }).status).toBe(424);
    expect(bedrockStreamException('somethingNew', {}).status).toBe(502);
  });
});

describe('config', () => {
  const env = {} as NodeJS.ProcessEnv;
  it('follows MLflow union order: role, keys, base', () => {
    expect(authMode({ aws_role_arn: 'arn:aws:iam::1:role/r', aws_access_key_id: 'a', aws_secret_access_key: 'b' })).toBe('role');
    expect(authMode({ aws_access_key_id: 'a', aws_secret_access_key: 'b' })).toBe('keys');
    expect(authMode({ aws_region: 'us-east-1' })).toBe('base');
  });

  it('reports incomplete or misplaced fields and a missing region', () => {
    expect(validateConfig({ aws_config: { aws_access_key_id: 'a' } }, env)).toEqual([
      'aws_config.aws_access_key_id and aws_config.aws_secret_access_key must be given together.',
      'No AWS region: set aws_config.aws_region, or AWS_REGION / AWS_DEFAULT_REGION in the environment.',
    ]);
    expect(validateConfig({ aws_config: { aws_region: 'eu-west-1', session_length_seconds: 1000, sts_endpoint_url: 'http://x' }, bedrock_endpoint_url: 'nope' }, env)).toEqual([
      'aws_config.session_length_seconds only applies together with aws_config.aws_role_arn.',
      'aws_config.sts_endpoint_url only applies together with aws_config.aws_role_arn.',
      "bedrock_endpoint_url must be an absolute URL, got 'nope'.",
    ]);
    expect(validateConfig({ aws_config: { aws_role_arn: 'arn:aws:iam::1:role/r', aws_region: 'us-west-2' } }, env)).toEqual([]);
  });

  it('takes the region from the environment when the config has none', () => {
    expect(resolveRegion({}, { AWS_DEFAULT_REGION: 'eu-central-1' } as NodeJS.ProcessEnv)).toBe('eu-central-1');
    expect(resolveRegion({ aws_region: 'us-west-2' }, { AWS_REGION: 'eu-central-1' } as NodeJS.ProcessEnv)).toBe('us-west-2');
  });
});
