/**
 * Both styles of the House provider against the example's real (tiny) House model server.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isGatewayError, type ProviderDefinition } from '@gatehouse/sdk';
import { checkProvider, collect, createProviderInstance, rejection, testCall } from '@gatehouse/sdk/testing';
import house from '../src/index.js';
import houseClass from '../src/class-style.js';
import { houseVector, startHouseServer, type HouseServer } from './model-server.js';

const KEY = 'house-secret-key-0123456789';
let srv: HouseServer;
beforeAll(async () => { srv = await startHouseServer({ key: KEY }); });
afterAll(async () => { await srv.close(); });

const make = (def: ProviderDefinition, endpointType: any = 'llm/v1/chat', config: Record<string, unknown> = {}) =>
  createProviderInstance(def, { config: { house_api_key: KEY, house_api_base: srv.url, ...config }, model: 'house-echo-1', endpointType });
const chatReq = (text: string, extra: Record<string, unknown> = {}) => ({ messages: [{ role: 'user', content: text }], ...extra });

describe('the manifest and the definitions', () => {
  it('declares both providers under apiVersion 2 and each passes the static checks', async () => {
    const pkg = (await import('../package.json', { with: { type: 'json' } })).default as any;
    expect(pkg.gateway).toEqual({ apiVersion: 2, providers: { house: './dist/index.js', 'house-class': './dist/class-style.js' } });
    expect(pkg.peerDependencies).toEqual({ '@gatehouse/sdk': '^0.2.0' });
    expect(checkProvider(house, 'house')).toEqual([]);
    expect(checkProvider(houseClass, 'house-class')).toEqual([]);
  });

  it('the class style reads its capabilities from the methods the class overrides', () => {
    expect(houseClass.capabilities).toEqual(['chat', 'chatStream', 'embeddings']);
    const inst = make(houseClass);
    // What the kernel checks to decide between calling and answering 501:
    expect(['chat', 'chatStream', 'completions', 'completionsStream', 'embeddings'].filter((c) => typeof (inst as any)[c] === 'function'))
      .toEqual(['chat', 'chatStream', 'embeddings']);
  });
});

describe.each([['object style', house], ['class style', houseClass]] as const)('house (%s)', (_style, def) => {
  it('chat: sends the House request and answers in the unified shape', async () => {
    const res = await make(def).chat!(chatReq('Hello there', { temperature: 0.2, max_tokens: 10 }) as any, testCall());
    const got = srv.received.at(-1)!;
    expect(got.path).toBe('/v1/generate');
    expect(got.authorization).toBe(`House ${KEY}`);
    expect(got.body).toEqual({ model: 'house-echo-1', input: { messages: [{ role: 'user', text: 'Hello there' }] }, params: { temperature: 0.2, max_new_tokens: 10 } });
    expect(JSON.stringify({ ...res, id: 'x', created: 0 })).toBe(JSON.stringify({
      id: 'x', object: 'chat.completion', created: 0, model: 'house-echo-1',
      choices: [{ index: 0, message: { role: 'assistant', content: 'Echo: Hello there', tool_calls: null, refusal: null }, finish_reason: 'stop' }],
      usage: { prompt_tokens: 2, completion_tokens: 3, total_tokens: 5 },
    }));
  });

  it('chat stream: token events become content deltas, done becomes the finish and usage', async () => {
    const chunks = await collect(make(def).chatStream!(chatReq('one two three') as any, testCall()));
    expect(srv.received.at(-1)!.body.stream).toBe(true);
    expect(chunks.map((c) => c.choices[0]?.delta.content)).toEqual(['Echo: ', 'one ', 'two ', 'three', null]);
    expect(chunks[0]!.choices[0]!.delta.role).toBe('assistant');
    expect(chunks.at(-1)!.choices[0]!.finish_reason).toBe('stop');
    expect(chunks.at(-1)!.usage).toEqual({ prompt_tokens: 3, completion_tokens: 4, total_tokens: 7 });
  });

  it('max_tokens cuts the answer and reports finish_reason length', async () => {
    const res = await make(def).chat!(chatReq('a b c d e f', { max_tokens: 2 }) as any, testCall());
    expect(res.choices[0]!.message.content).toBe('Echo: a ');
    expect(res.choices[0]!.finish_reason).toBe('length');
  });

  it('embeddings: texts in, vectors out in input order', async () => {
    const res = await make(def, 'llm/v1/embeddings').embeddings!({ input: ['alpha', 'beta gamma'] }, testCall());
    expect(srv.received.at(-1)!.body).toEqual({ model: 'house-echo-1', texts: ['alpha', 'beta gamma'] });
    expect(res.data.map((d) => d.embedding)).toEqual([houseVector('alpha'), houseVector('beta gamma')]);
    expect(res.usage).toEqual({ prompt_tokens: 3, total_tokens: 3 });
  });

  it('an upstream error keeps its status and Retry-After and shows the service message, never the key', async () => {
    srv.failNext({ status: 429, code: 'RATE_LIMITED', message: 'slow down', headers: { 'retry-after': '7' } });
    const err = await rejection(make(def).chat!(chatReq('hi') as any, testCall()));
    expect(isGatewayError(err)).toBe(true);
    expect(err.status).toBe(429);
    expect(err.message).toBe('House service error: slow down');
    expect(err.headers).toEqual({ 'retry-after': '7' });
    expect(JSON.stringify([err.message, err.detail])).not.toContain(KEY);
  });

  it('a wrong key is the service 401, and the message does not echo the key', async () => {
    const err = await rejection(make(def, 'llm/v1/chat', { house_api_key: 'wrong-key-abcdef' }).chat!(chatReq('hi') as any, testCall()));
    expect(err.status).toBe(401);
    expect(err.message).toBe('House service error: unknown service key');
    expect(err.message).not.toContain('wrong-key-abcdef');
  });

  it('a failure after the first token ends the stream with a 502 GatewayError', async () => {
    srv.failNext({ code: 'OVERLOADED', message: 'GPU fell over', afterTokens: 2 });
    const seen: string[] = [];
    const err = await rejection((async () => { for await (const c of make(def).chatStream!(chatReq('a b c d') as any, testCall())) seen.push(c.choices[0]!.delta.content!); })());
    expect(seen).toEqual(['Echo: ', 'a ']);
    expect(isGatewayError(err) && err.status).toBe(502);
    expect(err.message).toBe('The House service failed mid-stream: GPU fell over');
  });

  it('n > 1 is refused with a 422 naming the parameter, before any upstream call', async () => {
    const before = srv.received.length;
    const err = await rejection(make(def).chat!(chatReq('hi', { n: 2 }) as any, testCall()));
    expect([err.status, err.param]).toEqual([422, 'n']);
    expect(srv.received.length).toBe(before);
  });
});

describe('501 for what a class does not override', () => {
  it('calling the base method directly answers MLflow\'s 501 message with the display name', async () => {
    const { HouseProvider } = await import('../src/class-style.js');
    const raw = new HouseProvider({ config: { house_api_key: KEY }, model: { name: 'm', provider: 'house-class' }, endpoint: { name: 'e', endpoint_type: 'llm/v1/completions' }, http: null as any, logger: null as any, timeoutMs: 1000 });
    const err = await rejection(raw.completions({ prompt: 'x' }, testCall()));
    expect([err.status, err.code]).toEqual([501, 'GW_ERR_CAPABILITY_UNSUPPORTED']);
    expect(err.message).toBe('The completions route is not implemented for HouseProvider models.');
    // Through defineProvider the instance exposes no completions method: the kernel answers 501 itself.
    expect((make(houseClass, 'llm/v1/completions') as any).completions).toBeUndefined();
  });
});
