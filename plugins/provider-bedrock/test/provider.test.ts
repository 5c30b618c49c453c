import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createHttpClient, isGatewayError, type EndpointType } from '@gatehouse/sdk';
import { checkProvider, collect, startFakeUpstream, type FakeUpstream } from '@gatehouse/sdk/testing';
import def, { type BedrockConfig } from '../src/index.js';
import { converseStreamBody, exceptionFrame, expectedAuthorization, json, parseAuth, recordingLogger, type LogLine } from './helpers.js';

const KEYS = { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY' };
const http = createHttpClient();
const call = () => ({ signal: new AbortController().signal });
const logs: LogLine[] = [];

let up: FakeUpstream;
beforeAll(async () => { up = await startFakeUpstream(); });
afterAll(async () => { await up.close(); await http.close(); });
beforeEach(() => { up.reset(); logs.length = 0; });

function instance(modelName: string, endpoint_type: EndpointType = 'llm/v1/completions', aws: Partial<BedrockConfig['aws_config']> = {}) {
  const config: BedrockConfig = {
    aws_config: { aws_access_key_id: KEYS.accessKeyId, aws_secret_access_key: KEYS.secretAccessKey, aws_region: 'us-west-2', ...aws },
    bedrock_endpoint_url: up.url,
  };
  return def.create({
    config, model: { name: modelName, provider: 'bedrock' }, endpoint: { name: 'e', endpoint_type },
    http, logger: recordingLogger(logs), timeoutMs: 5000,
  });
}

const families = json('families.json');
const converse = json('converse.json');
const stream = json('converse-stream.json');
const CLAUDE3 = 'anthropic.claude-3-haiku-20240307-v1:0';
const chatReq = () => ({ messages: [{ role: 'user', content: 'Hi' }], temperature: 0, n: 1 });

describe('definition', () => {
  it('is one definition named bedrock with the alias amazon-bedrock', () => {
    expect(checkProvider(def, 'bedrock')).toEqual([]);
    expect(checkProvider(def, 'amazon-bedrock')).toEqual([]);
    expect(def.name).toBe('bedrock');
    expect(def.aliases).toEqual(['amazon-bedrock']);
    expect(def.displayName).toBe('Amazon Bedrock');
    expect(def.keyFields).toContain('aws_config.aws_secret_access_key');
  });

  it('requires a model name (the Bedrock model id) at start-up', () => {
    const config: BedrockConfig = { aws_config: { aws_region: 'us-east-1' } };
    expect(def.validate?.(config, { name: null, provider: 'bedrock' }, 'llm/v1/chat')).toEqual(['Amazon Bedrock needs model.name: the Bedrock model id, e.g. anthropic.claude-3-haiku-20240307-v1:0.']);
    expect(def.validate?.(config, { name: 'amazon.titan-text-express-v1', provider: 'bedrock' }, 'llm/v1/completions')).toEqual([]);
  });

  it('offers chat, chat stream and completions, and lacks embeddings and completions streaming', () => {
    const inst = instance(CLAUDE3);
    expect([typeof inst.chat, typeof inst.chatStream, typeof inst.completions]).toEqual(['function', 'function', 'function']);
    expect(inst.embeddings).toBeUndefined();
    expect(inst.completionsStream).toBeUndefined();
  });
});

describe('completions (InvokeModel)', () => {
  it.each(['anthropic', 'amazon', 'ai21', 'cohere'])('%s: POST /model/{id}/invoke, signed, mapped both ways', async (family) => {
    const f = families[family];
    up.on(`POST /model/${f.model}/invoke`, { json: f.response });
    const res = await instance(f.model).completions!(f.request, call());
    const r = up.last();
    expect(r.url).toBe(`/model/${encodeURIComponent(f.model)}/invoke`);
    expect(r.json).toEqual(f.upstream);
    expect(r.headers['content-type']).toBe('application/json');
    expect(r.headers.accept).toBe('application/json');
    expect({ ...res, created: 0 }).toEqual({ ...f.unified, created: 0 });
  });

  it('signs with SigV4 for service bedrock: the header format, x-amz-date, and a signature that matches the wire request', async () => {
    const f = families.anthropic;
    up.on(`POST /model/${f.model}/invoke`, { json: f.response });
    await instance(f.model).completions!(f.request, call());
    const r = up.last();
    const auth = parseAuth(r);
    const amzDate = String(r.headers['x-amz-date']);
    expect(amzDate).toMatch(/^\d{8}T\d{6}Z$/);
    expect(auth).toMatchObject({ keyId: 'AKIDEXAMPLE', date: amzDate.slice(0, 8), region: 'us-west-2' });
    expect(auth.signedHeaders).toEqual(expect.arrayContaining(['host', 'x-amz-date', 'content-type', 'x-amz-content-sha256']));
    expect(String(r.headers.authorization)).toMatch(/^AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE\/\d{8}\/us-west-2\/bedrock\/aws4_request, SignedHeaders=[^,]+, Signature=[0-9a-f]{64}$/);
    expect(r.headers['x-amz-security-token']).toBeUndefined();
    expect(await expectedAuthorization(r, KEYS, 'us-west-2', up.port)).toBe(r.headers.authorization);
    // The secret never travels.
    expect(JSON.stringify(r.headers)).not.toContain(KEYS.secretAccessKey);
  });

  it('keeps a path prefix of bedrock_endpoint_url (proxies) and signs that path', async () => {
    const f = families.ai21;
    up.on(`POST /proxy/bedrock/model/${f.model}/invoke`, { json: f.response });
    const inst = def.create({
      config: { aws_config: { aws_access_key_id: KEYS.accessKeyId, aws_secret_access_key: KEYS.secretAccessKey, aws_region: 'us-west-2' }, bedrock_endpoint_url: `${up.url}/proxy/bedrock/` },
      model: { name: f.model, provider: 'bedrock' }, endpoint: { name: 'e', endpoint_type: 'llm/v1/completions' },
      http, logger: recordingLogger(logs), timeoutMs: 5000,
    });
    await inst.completions!(f.request, call());
    const r = up.last();
    expect(r.url).toBe(`/proxy/bedrock/model/${f.model}/invoke`);
    expect(await expectedAuthorization(r, KEYS, 'us-west-2', up.port)).toBe(r.headers.authorization);
  });

  it('sends the session token of temporary keys as x-amz-security-token, signed', async () => {
    const f = families.amazon;
    up.on(`POST /model/${f.model}/invoke`, { json: f.response });
    await instance(f.model, 'llm/v1/completions', { aws_session_token: 'FQoGZXIvYXdzEXAMPLETOKEN' }).completions!(f.request, call());
    const r = up.last();
    expect(r.headers['x-amz-security-token']).toBe('FQoGZXIvYXdzEXAMPLETOKEN');
    expect(parseAuth(r).signedHeaders).toContain('x-amz-security-token');
    expect(await expectedAuthorization(r, { ...KEYS, sessionToken: 'FQoGZXIvYXdzEXAMPLETOKEN' }, 'us-west-2', up.port)).toBe(r.headers.authorization);
  });

  it('takes usage from the x-amzn-bedrock token-count headers', async () => {
    const f = families.anthropic;
    up.on(`POST /model/${f.model}/invoke`, { json: f.response, headers: { 'x-amzn-bedrock-input-token-count': '11', 'x-amzn-bedrock-output-token-count': '9' } });
    const res = await instance(f.model).completions!(f.request, call());
    expect(res.usage).toEqual({ prompt_tokens: 11, completion_tokens: 9, total_tokens: 20 });
  });

  it('answers 422 for a model id of no known family, without calling upstream', async () => {
    const e = await instance('meta.llama3-8b-instruct-v1:0').completions!({ prompt: 'x', temperature: 0, n: 1 }, call()).catch((x) => x);
    expect(e.status).toBe(422);
    expect(e.message).toMatch(/^Unknown Amazon Bedrock model type/);
    expect(up.requests).toHaveLength(0);
  });

  it('maps a 4xx Bedrock error (x-amzn-ErrorType + {"message"}) to its status and message', async () => {
    up.on('POST /model/amazon.titan-text-express-v1/invoke', {
      status: 400, json: { message: 'Malformed input request: #: extraneous key [foo] is not permitted, please reformat your input and try again.' },
      headers: { 'x-amzn-errortype': 'ValidationException:http://internal.amazon.com/coral/com.amazon.bedrock/' },
    });
    const e = await instance('amazon.titan-text-express-v1').completions!({ prompt: 'x', temperature: 0, n: 1 }, call()).catch((x) => x);
    expect(isGatewayError(e)).toBe(true);
    expect(e.status).toBe(400);
    expect(e.detail).toBe('Malformed input request: #: extraneous key [foo] is not permitted, please reformat your input and try again.');
  });

  it('maps a 5xx Bedrock error to its status', async () => {
    up.on('POST /model/amazon.titan-text-express-v1/invoke', {
      status: 503, json: { message: 'Bedrock is unable to process your request.' }, headers: { 'x-amzn-errortype': 'ServiceUnavailableException' },
    });
    const e = await instance('amazon.titan-text-express-v1').completions!({ prompt: 'x', temperature: 0, n: 1 }, call()).catch((x) => x);
    expect(e.status).toBe(503);
    expect(e.detail).toBe('Bedrock is unable to process your request.');
  });

  it('maps an auth failure (403 with Message) to 403', async () => {
    up.on('POST /model/amazon.titan-text-express-v1/invoke', {
      status: 403, json: { message: 'The security token included in the request is invalid.' }, headers: { 'x-amzn-errortype': 'UnrecognizedClientException:http://internal.amazon.com/coral/com.amazon.coral.service/' },
    });
    const e = await instance('amazon.titan-text-express-v1').completions!({ prompt: 'x', temperature: 0, n: 1 }, call()).catch((x) => x);
    expect([e.status, e.detail]).toEqual([403, 'The security token included in the request is invalid.']);
  });
});

describe('chat (Converse)', () => {
  it('POSTs /model/{id}/converse, signed, and maps the answer', async () => {
    up.on(`POST /model/${CLAUDE3}/converse`, { json: converse.response, headers: { 'x-amzn-requestid': '5d5a6b2e-0c6f-4b3a-9d8e-1f2a3b4c5d6e' } });
    const res = await instance(CLAUDE3, 'llm/v1/chat').chat!(converse.request, call());
    const r = up.last();
    expect(r.url).toBe('/model/anthropic.claude-3-haiku-20240307-v1%3A0/converse');
    expect(r.json).toEqual(converse.upstream);
    expect(await expectedAuthorization(r, KEYS, 'us-west-2', up.port)).toBe(r.headers.authorization);
    expect({ ...res, created: 0 }).toEqual({ ...converse.unified, created: 0 });
  });

  it('maps a throttling error', async () => {
    up.on(`POST /model/${CLAUDE3}/converse`, { status: 429, json: { message: 'Too many requests, please wait before trying again.' }, headers: { 'x-amzn-errortype': 'ThrottlingException:http://internal.amazon.com/coral/com.amazon.bedrock/' } });
    const e = await instance(CLAUDE3, 'llm/v1/chat').chat!(chatReq(), call()).catch((x) => x);
    expect([e.status, e.detail]).toEqual([429, 'Too many requests, please wait before trying again.']);
  });
});

describe('chat stream (ConverseStream, binary event stream)', () => {
  const body = converseStreamBody(stream.events);
  const strip = (cs: any[]) => cs.map(({ created, ...rest }) => rest);
  const ES = 'application/vnd.amazon.eventstream';

  it.each([1, 2, 3, 5, 7, 64])('gives the same chunks when the upstream splits every %i bytes', async (n) => {
    up.on(`POST /model/${CLAUDE3}/converse-stream`, { raw: body, contentType: ES, splitEvery: n, headers: { 'x-amzn-requestid': 'req-1' } });
    const chunks = await collect(instance(CLAUDE3, 'llm/v1/chat').chatStream!(chatReq(), call()));
    expect(strip(chunks)).toEqual(strip(stream.expected));
    const r = up.last();
    expect(r.url).toBe('/model/anthropic.claude-3-haiku-20240307-v1%3A0/converse-stream');
    expect(r.headers.accept).toBe(ES);
    expect(r.json).toEqual({ messages: [{ role: 'user', content: [{ text: 'Hi' }] }], inferenceConfig: { temperature: 0 } });
  });

  it('splits inside a frame prelude, headers and CRC', async () => {
    const len = body.readUInt32BE(0);
    up.on(`POST /model/${CLAUDE3}/converse-stream`, { raw: body, contentType: ES, splitAt: [1, 3, 9, 15, len - 3, len + 2, len + 7], headers: { 'x-amzn-requestid': 'req-1' } });
    const chunks = await collect(instance(CLAUDE3, 'llm/v1/chat').chatStream!(chatReq(), call()));
    expect(strip(chunks)).toEqual(strip(stream.expected));
  });

  it('throws a GatewayError for an exception event after some chunks', async () => {
    const partial = converseStreamBody(stream.events.slice(0, 3));
    up.on(`POST /model/${CLAUDE3}/converse-stream`, { raw: Buffer.concat([partial, exceptionFrame('throttlingException', 'Too many tokens, please wait before trying again.')]), contentType: ES, splitEvery: 5 });
    const seen: unknown[] = [];
    const e = await (async () => {
      try { for await (const c of instance(CLAUDE3, 'llm/v1/chat').chatStream!(chatReq(), call())) seen.push(c); } catch (err) { return err as any; }
    })();
    expect(seen).toHaveLength(2);
    expect(isGatewayError(e)).toBe(true);
    expect([e.status, e.message]).toEqual([429, 'Too many tokens, please wait before trying again.']);
  });

  it('throws GW_ERR_UPSTREAM_TRUNCATED when the stream ends cleanly before messageStop', async () => {
    up.on(`POST /model/${CLAUDE3}/converse-stream`, { raw: converseStreamBody(stream.events.slice(0, 4)), contentType: ES });
    const e = await collect(instance(CLAUDE3, 'llm/v1/chat').chatStream!(chatReq(), call())).catch((x) => x);
    expect([e.code, e.status]).toEqual(['GW_ERR_UPSTREAM_TRUNCATED', 502]);
  });

  it('maps an error status before the stream starts', async () => {
    up.on(`POST /model/${CLAUDE3}/converse-stream`, { status: 400, json: { message: 'The provided model identifier is invalid.' }, headers: { 'x-amzn-errortype': 'ValidationException' } });
    const e = await collect(instance(CLAUDE3, 'llm/v1/chat').chatStream!(chatReq(), call())).catch((x) => x);
    expect([e.status, e.detail]).toEqual([400, 'The provided model identifier is invalid.']);
  });

  it('rejects a 200 answer that is not an event stream, naming its content type', async () => {
    up.on(`POST /model/${CLAUDE3}/converse-stream`, { text: '<html>proxy error</html>', contentType: 'text/html' });
    const e = await collect(instance(CLAUDE3, 'llm/v1/chat').chatStream!(chatReq(), call())).catch((x) => x);
    expect([e.status, e.code]).toEqual([502, 'GW_ERR_UPSTREAM_CONTENT_TYPE']);
    expect(e.message).toContain('text/html');
  });

  it('rejects a 200 JSON answer that is not a Converse answer', async () => {
    up.on(`POST /model/${CLAUDE3}/converse-stream`, { json: { hello: 'world' } });
    const e = await collect(instance(CLAUDE3, 'llm/v1/chat').chatStream!(chatReq(), call())).catch((x) => x);
    expect([e.status, e.code]).toEqual([502, 'GW_ERR_UPSTREAM_BAD_RESPONSE']);
  });
});
