import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeUpstream, type FakeUpstream } from '@gatehouse/sdk/testing';
import { postJson, readSse, startTestGateway, type TestGateway } from '../../../test/helpers/gateway.js';
import { fixture, text } from './helpers.js';

async function stream(url: string, body: unknown) {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return { status: res.status, events: await readSse(res) };
}

describe('huggingface-text-generation-inference end to end through the gateway', () => {
  let up: FakeUpstream;
  let gw: TestGateway;
  beforeAll(async () => {
    up = await startFakeUpstream();
    const model = { provider: 'huggingface-text-generation-inference', name: 'hf-tgi', config: { hf_server_url: up.url } };
    gw = await startTestGateway({
      config: {
        endpoints: [
          { name: 'completions', endpoint_type: 'llm/v1/completions', model },
          { name: 'chat', endpoint_type: 'llm/v1/chat', model },
        ],
      },
    });
  });
  afterAll(async () => { await gw?.close(); await up?.close(); });

  it('completions via /generate', async () => {
    up.on('POST /generate', { json: fixture('generate.upstream-response.json') });
    const r = await postJson(`${gw.url}/endpoints/completions/invocations`, { prompt: 'This is a test', max_tokens: 1000 });
    expect(r.status).toBe(200);
    expect(r.json.choices).toEqual([{ index: 0, text: 'this is a test response', finish_reason: 'length' }]);
    expect(r.json.usage).toEqual({ prompt_tokens: 4, completion_tokens: 5, total_tokens: 9 });
    // No temperature from the caller, none upstream (MLflow 3.11 no longer defaults it to 0 → 0.001).
    expect(up.last().json).toEqual({ inputs: 'This is a test', parameters: { max_new_tokens: 1000, details: true, decoder_input_details: true } });
  });

  it('completions stream via /generate_stream', async () => {
    up.on('POST /generate_stream', { raw: text('generate-stream.upstream.sse'), contentType: 'text/event-stream', splitEvery: 4 });
    const r = await stream(`${gw.url}/endpoints/completions/invocations`, { prompt: 'What is', stream: true });
    expect(r.status).toBe(200);
    expect(r.events.map((e) => e.choices[0].text)).toEqual([' Deep', ' learning — ça', '']);
    expect(r.events.at(-1).choices[0].finish_reason).toBe('eos_token');
  });

  it('a generation error inside the stream ends it with a final error event', async () => {
    const raw = text('generate-stream.upstream.sse').split('\n\n')[0] + '\n\n' + 'data:{"error":"Request failed during generation: boom","error_type":"generation"}\n\n';
    up.on('POST /generate_stream', { raw, contentType: 'text/event-stream' });
    const r = await stream(`${gw.url}/endpoints/completions/invocations`, { prompt: 'x', stream: true });
    expect(r.status).toBe(200);
    expect(r.events[0].choices[0].text).toBe(' Deep');
    expect(r.events.at(-1).error.message).toBe('Request failed during generation: boom');
  });

  it('chat via the Messages API, and chat stream', async () => {
    up.on('POST /v1/chat/completions', { json: fixture('chat.upstream-response.json') });
    const r = await postJson(`${gw.url}/endpoints/chat/invocations`, { messages: [{ role: 'user', content: 'What is deep learning?' }] });
    expect(r.status).toBe(200);
    expect(r.text).toBe(JSON.stringify({ ...fixture('chat.response.json'), provider: 'huggingface-text-generation-inference' }));

    up.on('POST /v1/chat/completions', { raw: text('chat-stream.upstream.sse'), contentType: 'text/event-stream', splitEvery: 7 });
    const s = await stream(`${gw.url}/endpoints/chat/invocations`, { messages: [{ role: 'user', content: 'hi' }], stream: true });
    expect(s.status).toBe(200);
    expect(s.events.filter((e) => e.choices?.length).map((e) => e.choices[0].delta.content)).toEqual(['Deep', ' learning ✨']);
  });

  it("n ≠ 1 → 422 with MLflow's message", async () => {
    const r = await postJson(`${gw.url}/endpoints/completions/invocations`, { prompt: 'p', n: 2 });
    expect([r.status, r.json]).toEqual([422, { detail: "'n' must be '1' for the Text Generation Inference provider.Received value: '2'." }]);
  });

  it('an embeddings endpoint is refused at start-up (the provider has no embeddings)', async () => {
    await expect(startTestGateway({
      config: { endpoints: [{ name: 'embeddings', endpoint_type: 'llm/v1/embeddings', model: { provider: 'huggingface-text-generation-inference', name: 'hf-tgi', config: { hf_server_url: up.url } } }] },
    })).rejects.toThrow("The Hugging Face Text Generation Inference provider cannot serve 'llm/v1/embeddings' endpoints");
  });
});
