/**
 * The conformance kit must catch what it claims to catch: a sloppy provider fails exactly the
 * checks it breaks, and a careful one passes them all.
 */
import { describe, expect, it } from 'vitest';
import { chatChunk, chatResponse, defineProvider, GatewayError, sseJson, type ProviderDefinition } from '../src/index.js';
import { answerShapeProblems, runConformance, type ConformanceFixtures } from '../src/testing/index.js';

const KEY = 'sk-kit-secret-0123456789';
const answer = { id: 'c1', text: 'hi' };
const events = [{ delta: 'a' }, { delta: 'b' }, { done: true }];

function provider(name: string, sloppy: boolean): ProviderDefinition<{ kit_api_key: string; kit_api_base: string }> {
  return defineProvider({
    name, displayName: name, configSchema: { type: 'object', properties: { kit_api_key: { type: 'string' }, kit_api_base: { type: 'string' } } },
    capabilities: ['chat', 'chatStream'],
    create: ({ config, http, timeoutMs }) => ({
      async chat(req, call) {
        try {
          // Sloppy: ignores the caller's signal.
          const js = await http.json({ url: `${config.kit_api_base}/chat`, body: req, signal: sloppy ? undefined : call.signal, timeoutMs, headers: { authorization: config.kit_api_key } });
          // Sloppy: builds the answer by hand, wrong order and nulls left out.
          return sloppy
            ? ({ object: 'chat.completion', id: js.id, model: 'm', created: 1, choices: [{ index: 0, message: { role: 'assistant', content: js.text }, finish_reason: 'stop' }] } as any)
            : chatResponse({ id: js.id, model: 'm', choices: [{ message: { content: js.text }, finish_reason: 'stop' }] });
        } catch (e) {
          // Sloppy: loses the status, and puts the key in the message.
          if (sloppy) throw new Error(`upstream failed for key ${config.kit_api_key}`);
          throw e;
        }
      },
      async *chatStream(req, call) {
        const res = await http.stream({ url: `${config.kit_api_base}/chat`, body: req, signal: call.signal, timeoutMs });
        try {
          for await (const js of sseJson(res.body)) {
            if (js.done) return;
            yield chatChunk({ id: 'c1', model: 'm', choices: [{ delta: { content: js.delta } }] });
          }
        } catch (e) {
          // Sloppy: a cut stream ends silently.
          if (sloppy) return;
          throw e;
        }
        throw new GatewayError('GW_ERR_UPSTREAM_TRUNCATED', 'cut');
      },
    }),
  });
}

const fixtures: ConformanceFixtures<any> = {
  config: (url) => ({ kit_api_key: KEY, kit_api_base: url }),
  capabilities: {
    chat: { route: 'POST /chat', answer: { json: answer } },
    chatStream: { route: 'POST /chat', answer: { sse: events } },
  },
};

describe('conformance kit', () => {
  it('a careful provider passes every check', async () => {
    const results = await runConformance(provider('careful', false), fixtures);
    expect(results.filter((r) => !r.ok)).toEqual([]);
    expect(results.map((r) => r.id)).toEqual([
      'declared', 'shape.chat', 'abort.chat', 'error-before-first.chat', 'shape.chatStream', 'abort.chatStream',
      'error-before-first.chatStream', 'error-after-first.chatStream', 'timeout-mid-stream.chatStream',
      'absent.completions', 'absent.completionsStream', 'absent.embeddings', 'timeout', 'no-key-in-errors',
    ]);
  });

  it('a sloppy provider fails exactly the checks it breaks', async () => {
    const results = await runConformance(provider('sloppy', true), fixtures);
    expect(results.filter((r) => !r.ok).map((r) => r.id)).toEqual([
      'shape.chat', 'abort.chat', 'error-before-first.chat', 'error-after-first.chatStream', 'timeout-mid-stream.chatStream', 'timeout', 'no-key-in-errors',
    ]);
    const byId = Object.fromEntries(results.map((r) => [r.id, r.error]));
    expect(byId['shape.chat']).toContain('fields [object, id, model, created, choices], expected [id, object, created, model, choices, usage]');
    expect(byId['no-key-in-errors']).toContain("contains the configured secret 'sk-…'");
    expect(byId['no-key-in-errors']).not.toContain(KEY);
  });

  it('answerShapeProblems accepts builder output and names a missing null field', () => {
    expect(answerShapeProblems('chat', chatResponse({ model: 'm', choices: [{ message: { content: 'x' } }] }))).toEqual([]);
    const { refusal: _r, ...message } = chatResponse({ model: 'm', choices: [{ message: { content: 'x' } }] }).choices[0]!.message;
    expect(answerShapeProblems('chat', { ...chatResponse({ model: 'm', choices: [] }), choices: [{ index: 0, message, finish_reason: null }] }))
      .toEqual(['chat.choices[0].message: fields [role, content, tool_calls], expected [role, content, tool_calls, refusal] in this order']);
  });
});
