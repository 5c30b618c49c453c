import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { isGatewayError, type HttpClient } from '@gatehouse/sdk';
import { checkProvider, startFakeUpstream, type FakeUpstream } from '@gatehouse/sdk/testing';
import def from '../src/index.js';
import { call, makeInstance, newHttp, rejection } from './helpers.js';

let up: FakeUpstream;
let http: HttpClient;
const config = () => ({ model_server_url: up.url });

beforeAll(async () => { up = await startFakeUpstream(); http = newHttp(); });
afterAll(async () => { await up.close(); await http.close(); });
afterEach(() => { up.reset(); });

describe('mlflow-model-serving provider definition', () => {
  it('passes the conformance checks, allows the model field', () => {
    expect(checkProvider(def, 'mlflow-model-serving')).toEqual([]);
    expect(def.displayName).toBe('MLflow Model Serving');
    expect(def.allowModelField).toBe(true);
  });

  it('has chat, completions and embeddings; no streams (501)', () => {
    const inst = makeInstance(def, http, config(), 'm', 'llm/v1/chat');
    for (const m of ['chat', 'completions', 'embeddings'] as const) expect(typeof inst[m]).toBe('function');
    expect(inst.chatStream).toBeUndefined();
    expect(inst.completionsStream).toBeUndefined();
  });
});

describe('mlflow-model-serving provider against a fake scoring server', () => {
  it('completions: POST <model_server_url>/invocations, Content-Type only', async () => {
    up.on('POST /invocations', { json: { predictions: ['This is a test!'] } });
    const inst = makeInstance(def, http, config(), 'text2text', 'llm/v1/completions');
    const out = await inst.completions!({ prompt: 'Is this a test?', temperature: 0, n: 1 }, call());
    expect(up.last().headers['content-type']).toBe('application/json');
    expect(up.last().headers.authorization).toBeUndefined();
    expect(up.last().json).toEqual({ inputs: ['Is this a test?'], params: { temperature: 0, n: 1 } });
    expect(out.choices).toEqual([{ index: 0, text: 'This is a test!', finish_reason: null }]);
    expect(out.model).toBe('text2text');
  });

  it('chat: single message → inputs [content]; a dict with choices is accepted', async () => {
    up.on('POST /invocations', { json: { predictions: { choices: ['It is a test'], extra: [1] } } });
    const inst = makeInstance(def, http, config(), 'chat-bot-9000', 'llm/v1/chat');
    const out = await inst.chat!({ messages: [{ role: 'user', content: 'Is this a test?' }], temperature: 0, n: 1 }, call());
    expect(up.last().json).toEqual({ inputs: ['Is this a test?'], params: { temperature: 0, n: 1 } });
    expect(out.choices[0]!.message).toEqual({ role: 'assistant', content: 'It is a test', tool_calls: null, refusal: null });
  });

  it('embeddings: list input kept as inputs', async () => {
    up.on('POST /invocations', { json: { predictions: [[0.01, -0.1], [0.03, -0.03]] } });
    const inst = makeInstance(def, http, { model_server_url: `${up.url}/` }, 'sentence-piece', 'llm/v1/embeddings');
    const out = await inst.embeddings!({ input: ['test1', 'test2'] }, call());
    expect(up.last().pathname).toBe('/invocations');
    expect(up.last().json).toEqual({ inputs: ['test1', 'test2'] });
    expect(out.data.map((d) => d.embedding)).toEqual([[0.01, -0.1], [0.03, -0.03]]);
  });

  it('an answer without predictions → 502 with pydantic-style text', async () => {
    up.on('POST /invocations', { json: { outputs: ['x'] } });
    const inst = makeInstance(def, http, config(), 'm', 'llm/v1/completions');
    const e = await rejection(inst.completions!({ prompt: 'p', temperature: 0, n: 1 }, call()));
    expect(e.status).toBe(502);
    expect(e.message).toContain('1 validation error for ServingTextResponse\npredictions');
  });

  it('upstream 400 (scoring server error body) keeps its status; the JSON body is the detail', async () => {
    const body = { error_code: 'BAD_REQUEST', message: 'Failed to parse input. Invalid input. Expected dataframe_split, inputs or instances.' };
    up.on('POST /invocations', { status: 400, json: body });
    const inst = makeInstance(def, http, config(), 'm', 'llm/v1/completions');
    const e = await rejection(inst.completions!({ prompt: 'p', temperature: 0, n: 1 }, call()));
    expect(isGatewayError(e)).toBe(true);
    expect(e.status).toBe(400);
    expect(e.detail).toEqual(body);
  });

  it('upstream 503 keeps its status', async () => {
    up.on('POST /invocations', { status: 503, json: { error_code: 'TEMPORARILY_UNAVAILABLE', message: 'busy' } });
    const inst = makeInstance(def, http, config(), 'm', 'llm/v1/embeddings');
    const e = await rejection(inst.embeddings!({ input: 'x' }, call()));
    expect(e.status).toBe(503);
  });
});
