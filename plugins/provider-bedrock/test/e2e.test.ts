import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeUpstream, type FakeUpstream } from '@gatehouse/sdk/testing';
import { postJson, readSse, startTestGateway, type TestGateway } from '../../../test/helpers/gateway.js';
import { converseStreamBody, exceptionFrame, json, parseAuth } from './helpers.js';

const KEY_ID = 'AKIAE2EEXAMPLE';
const SECRET = 'e2eSecret/K7MDENG+bPxRfiCYEXAMPLEKEY';
const CLAUDE3 = 'anthropic.claude-3-haiku-20240307-v1:0';
const TITAN = 'amazon.titan-text-express-v1';
const families = json('families.json');
const converse = json('converse.json');
const stream = json('converse-stream.json');
const post = (url: string, body: unknown) => fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

describe('bedrock through the running gateway', () => {
  let up: FakeUpstream;
  let gw: TestGateway;
  beforeAll(async () => {
    up = await startFakeUpstream();
    const config = {
      aws_config: { aws_access_key_id: '$TEST_AWS_KEY_ID', aws_secret_access_key: '$TEST_AWS_SECRET', aws_region: 'us-east-1' },
      bedrock_endpoint_url: up.url,
    };
    gw = await startTestGateway({
      env: { TEST_AWS_KEY_ID: KEY_ID, TEST_AWS_SECRET: SECRET },
      config: {
        endpoints: [
          { name: 'titan', endpoint_type: 'llm/v1/completions', model: { provider: 'bedrock', name: TITAN, config } },
          { name: 'claude', endpoint_type: 'llm/v1/chat', model: { provider: 'amazon-bedrock', name: CLAUDE3, config } },
        ],
      },
    });
  });
  afterAll(async () => { await gw?.close(); await up?.close(); });

  it('lists an endpoint configured with the alias under that name, as MLflow does', async () => {
    const r = await (await fetch(`${gw.url}/api/2.0/endpoints/claude`)).json() as { model: unknown };
    expect(r.model).toEqual({ name: CLAUDE3, provider: 'amazon-bedrock' });
  });

  it('completions: a SigV4-signed InvokeModel call with keys from the environment', async () => {
    up.on(`POST /model/${TITAN}/invoke`, { json: families.amazon.response });
    const r = await postJson(`${gw.url}/endpoints/titan/invocations`, { prompt: 'Hi', temperature: 0.6, max_tokens: 50, stop: ['User:'] });
    expect(r.status).toBe(200);
    expect(r.json).toMatchObject({ id: null, object: 'text_completion', model: TITAN, choices: [{ index: 0, text: '\nHello! How can I help?', finish_reason: 'stop' }] });
    const u = up.last();
    expect(u.json).toEqual({ inputText: 'Hi', textGenerationConfig: { temperature: 0.3, maxTokenCount: 50, stopSequences: ['User:'] } });
    expect(parseAuth(u)).toMatchObject({ keyId: KEY_ID, region: 'us-east-1' });
    expect(String(u.headers['x-amz-date'])).toMatch(/^\d{8}T\d{6}Z$/);
    expect(gw.logs.join('\n')).not.toContain(SECRET);
  });

  it('chat: Converse, answered in the unified shape', async () => {
    up.on(`POST /model/${CLAUDE3}/converse`, { json: converse.response, headers: { 'x-amzn-requestid': 'rid-1' } });
    const r = await postJson(`${gw.url}/endpoints/claude/invocations`, { messages: [{ role: 'user', content: 'Weather in Paris?' }] });
    expect(r.status).toBe(200);
    expect(r.json).toMatchObject({ id: 'rid-1', object: 'chat.completion', model: CLAUDE3, choices: [{ index: 0, finish_reason: 'tool_calls', message: { content: 'Sure, checking.' } }], usage: { prompt_tokens: 120, completion_tokens: 30, total_tokens: 150 } });
    expect(up.last().url).toBe('/model/anthropic.claude-3-haiku-20240307-v1%3A0/converse');
  });

  it('chat stream: the binary event stream becomes SSE chunks', async () => {
    up.on(`POST /model/${CLAUDE3}/converse-stream`, { raw: converseStreamBody(stream.events), contentType: 'application/vnd.amazon.eventstream', splitEvery: 7 });
    const res = await post(`${gw.url}/endpoints/claude/invocations`, { messages: [{ role: 'user', content: 'Hi' }], stream: true });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const events = await readSse(res);
    expect(events.map((e) => e.choices[0].delta.content).filter(Boolean).join('')).toBe('Let me check Zürich ☀️');
    expect(events.at(-1).choices[0].finish_reason).toBe('tool_calls');
  });

  it('chat stream: an exception event ends the stream with a final error event', async () => {
    up.on(`POST /model/${CLAUDE3}/converse-stream`, { raw: Buffer.concat([converseStreamBody(stream.events.slice(0, 2)), exceptionFrame('modelStreamErrorException', 'The model failed mid-stream.')]), contentType: 'application/vnd.amazon.eventstream' });
    const events = await readSse(await post(`${gw.url}/endpoints/claude/invocations`, { messages: [{ role: 'user', content: 'Hi' }], stream: true }));
    expect(events[0].choices[0].delta.content).toBe('Let me ');
    expect(events.at(-1)).toEqual({ error: { message: 'The model failed mid-stream.', type: 'upstream_error', code: 'GW_ERR_UPSTREAM_STATUS', status: 424 } });
  });

  it('a Bedrock 4xx keeps its status with {"detail": message}', async () => {
    up.on(`POST /model/${TITAN}/invoke`, { status: 400, json: { message: 'Malformed input request, please reformat your input and try again.' }, headers: { 'x-amzn-errortype': 'ValidationException:http://internal.amazon.com/coral/com.amazon.bedrock/' } });
    const r = await postJson(`${gw.url}/endpoints/titan/invocations`, { prompt: 'Hi' });
    expect([r.status, r.text]).toEqual([400, '{"detail":"Malformed input request, please reformat your input and try again."}']);
  });

  it('an embeddings endpoint is refused at start-up; a completions stream answers 501 with MLflow\'s message', async () => {
    await expect(startTestGateway({
      config: { endpoints: [{ name: 'emb', endpoint_type: 'llm/v1/embeddings', model: { provider: 'amazon-bedrock', name: 'amazon.titan-embed-text-v1', config: { aws_config: { aws_region: 'us-east-1' } } } }] },
    })).rejects.toThrow("The Amazon Bedrock provider cannot serve 'llm/v1/embeddings' endpoints");
    const cs = await postJson(`${gw.url}/endpoints/titan/invocations`, { prompt: 'x', stream: true });
    expect([cs.status, cs.json]).toEqual([501, { detail: 'The completions streaming route is not implemented for Amazon Bedrock models.' }]);
  });
});
