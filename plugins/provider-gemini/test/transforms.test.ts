import { describe, expect, it } from 'vitest';
import { isGatewayError, type ChatRequest, type CompletionsRequest } from '@gatehouse/sdk';
import {
  chatToGemini, completionsToGemini, createChatStreamMapper, embeddingsToGemini, fallbackCallId, geminiStreamEvents,
  geminiToChat, geminiToCompletions, geminiToCompletionsChunk, geminiToEmbeddings, normalizeFinishReason, pythonJsonDumps,
} from '../src/index.js';
import { fixture, geminiSse } from './helpers.js';

const NOW = 1234567890;

function thrown(fn: () => unknown): any {
  try { fn(); } catch (e) { return e; }
  throw new Error('expected a throw');
}

describe('gemini request transforms', () => {
  it('maps a chat request: system_instruction, generationConfig renames, temperature unscaled', () => {
    const f = fixture('chat.json');
    expect(chatToGemini(f.request)).toEqual(f.upstreamBody);
    expect(Object.keys(chatToGemini(f.request))).toEqual(['contents', 'system_instruction', 'generationConfig']);
  });

  it('maps tools to functionDeclarations with parametersJsonSchema', () => {
    const f = fixture('chat-tools.json');
    expect(chatToGemini(f.request)).toEqual(f.upstreamBody);
  });

  it('maps assistant tool_calls to functionCall and tool messages to functionResponse (name looked up by id)', () => {
    const f = fixture('chat-tools-second-turn.json');
    expect(chatToGemini(f.request)).toEqual(f.upstreamBody);
  });

  it('puts consecutive tool results in one user turn, wraps non-object results, keeps assistant text', () => {
    const body = chatToGemini({
      temperature: 0, n: 1,
      messages: [
        { role: 'user', content: 'hi' },
        {
          role: 'assistant', content: 'Let me check.',
          tool_calls: [
            { id: 'a', type: 'function', function: { name: 'f1', arguments: '{}' } },
            { id: 'b', type: 'function', function: { name: 'f2', arguments: '{"x": [1, 2]}' } },
          ],
        },
        { role: 'tool', tool_call_id: 'a', content: 'plain text' },
        { role: 'tool', tool_call_id: 'b', content: '[1, 2]' },
      ],
    } as ChatRequest);
    expect(body.contents).toEqual([
      { role: 'user', parts: [{ text: 'hi' }] },
      { role: 'model', parts: [{ text: 'Let me check.' }, { functionCall: { id: 'a', name: 'f1', args: {} } }, { functionCall: { id: 'b', name: 'f2', args: { x: [1, 2] } } }] },
      { role: 'user', parts: [
        { functionResponse: { id: 'a', name: 'f1', response: { output: 'plain text' } } },
        { functionResponse: { id: 'b', name: 'f2', response: { output: [1, 2] } } },
      ] },
    ]);
  });

  it('maps image and audio parts and several system messages', () => {
    const body = chatToGemini({
      temperature: 0, n: 1,
      messages: [
        { role: 'system', content: 'one' },
        { role: 'system', content: 'two' },
        { role: 'user', content: [
          { type: 'text', text: 'what is this?' },
          { type: 'image_url', image_url: { url: 'data:image/png;base64,iVBORw0K' } },
          { type: 'image_url', image_url: { url: 'gs://bucket/cat.jpg' } },
          { type: 'input_audio', input_audio: { data: 'UklGR', format: 'wav' } },
        ] },
      ],
    } as ChatRequest);
    expect(body.system_instruction).toEqual({ parts: [{ text: 'one' }, { text: 'two' }] });
    expect(body.contents[0].parts).toEqual([
      { text: 'what is this?' },
      { inlineData: { mimeType: 'image/png', data: 'iVBORw0K' } },
      { fileData: { fileUri: 'gs://bucket/cat.jpg' } },
      { inlineData: { mimeType: 'audio/wav', data: 'UklGR' } },
    ]);
  });

  it('maps tool_choice and response_format', () => {
    const base = { temperature: 0, n: 1, messages: [{ role: 'user', content: 'x' }] };
    expect(chatToGemini({ ...base, tool_choice: 'required' } as ChatRequest).toolConfig).toEqual({ functionCallingConfig: { mode: 'ANY' } });
    expect(chatToGemini({ ...base, tool_choice: { type: 'function', function: { name: 'f' } } } as ChatRequest).toolConfig)
      .toEqual({ functionCallingConfig: { mode: 'ANY', allowedFunctionNames: ['f'] } });
    expect(chatToGemini({ ...base, response_format: { type: 'json_schema', json_schema: { name: 's', schema: { type: 'object' } } } } as ChatRequest).generationConfig)
      .toEqual({ temperature: 0, candidateCount: 1, responseMimeType: 'application/json', responseJsonSchema: { type: 'object' } });
  });

  it.each([
    [{ stopSequences: ['\n'] }, 'Invalid parameter stopSequences. Use stop instead.'],
    [{ candidateCount: 1 }, 'Invalid parameter candidateCount. Use n instead.'],
    [{ maxOutputTokens: 50 }, 'Invalid parameter maxOutputTokens. Use max_tokens instead.'],
    [{ topK: 40 }, 'Invalid parameter topK. Use top_k instead.'],
    [{ topP: 0.5 }, 'Invalid parameter topP. Use top_p instead.'],
    [{ top_p: 1.1 }, 'top_p should be less than or equal to 1'],
  ])('rejects %j with 422', (override, message) => {
    const chat = thrown(() => chatToGemini({ temperature: 0.1, n: 1, messages: [{ role: 'user', content: 'x' }], ...override } as ChatRequest));
    const completions = thrown(() => completionsToGemini({ temperature: 0.1, n: 1, prompt: 'x', ...override } as CompletionsRequest));
    for (const e of [chat, completions]) {
      expect(isGatewayError(e)).toBe(true);
      expect(e.status).toBe(422);
      expect(e.message).toBe(message);
    }
  });

  it('rejects a tool message that answers no call, and invalid call arguments', () => {
    const e = thrown(() => chatToGemini({ temperature: 0, n: 1, messages: [{ role: 'tool', tool_call_id: 'zz', content: '{}' }] } as ChatRequest));
    expect(e.status).toBe(422);
    const e2 = thrown(() => chatToGemini({ temperature: 0, n: 1, messages: [{ role: 'assistant', tool_calls: [{ id: 'a', type: 'function', function: { name: 'f', arguments: '{oops' } }] }] } as ChatRequest));
    expect(e2.status).toBe(422);
  });

  it('maps completions as one user message, with an optional system_prompt', () => {
    const f = fixture('completions.json');
    expect(completionsToGemini(f.request)).toEqual(f.upstreamBody);
    expect(completionsToGemini({ prompt: 'p', temperature: 0, n: 1, system_prompt: 'be brief' } as CompletionsRequest)).toEqual({
      contents: [{ role: 'user', parts: [{ text: 'p' }] }],
      system_instruction: { parts: [{ text: 'be brief' }] },
      generationConfig: { temperature: 0, candidateCount: 1 },
    });
  });

  it('maps embeddings to embedContent (one text) or batchEmbedContents (several)', () => {
    const f = fixture('embeddings.json');
    for (const c of [f.single, f.batch]) {
      expect(embeddingsToGemini(c.request, 'text-embedding-004')).toEqual({ method: c.method, body: c.upstreamBody });
    }
    expect(embeddingsToGemini({ input: ['only one'] }, 'm').method).toBe('embedContent');
    expect(embeddingsToGemini({ input: 'x', dimensions: 8 }, 'm').body).toEqual({ content: { parts: [{ text: 'x' }] }, outputDimensionality: 8 });
    expect(thrown(() => embeddingsToGemini({ input: [1, 2, 3] }, 'm')).status).toBe(422);
  });
});

describe('gemini response transforms', () => {
  it('maps a chat answer (field order fixed)', () => {
    const f = fixture('chat.json');
    const out = geminiToChat(f.upstreamResponse, 'gemini-2.0-flash', NOW);
    expect(out).toEqual(f.response);
    expect(JSON.stringify(out)).toBe(JSON.stringify(f.response));
  });

  it('gives function calls without an id MLflow\'s md5 id and Python-spaced arguments', () => {
    const f = fixture('chat-tools.json');
    const out = geminiToChat(f.upstreamResponse, 'gemini-2.0-flash', NOW);
    expect(JSON.stringify(out)).toBe(JSON.stringify(f.response));
    expect(fallbackCallId('get_temperature', '{"location": "Singapore"}')).toBe('call_e03eff58ce9e84e7ee3153e687f71dd3');
  });

  it('keeps an upstream call id and maps several calls', () => {
    const out = geminiToChat({ candidates: [{ content: { parts: [
      { functionCall: { id: 'x1', name: 'a', args: { q: 'é', n: 2.5 } } },
      { functionCall: { name: 'b', args: {} } },
    ] }, finishReason: 'STOP' }] }, 'm', NOW);
    expect(out.choices[0]!.message.tool_calls).toEqual([
      { id: 'x1', type: 'function', function: { name: 'a', arguments: '{"q": "\\u00e9", "n": 2.5}' } },
      { id: fallbackCallId('b', '{}'), type: 'function', function: { name: 'b', arguments: '{}' } },
    ]);
  });

  it('skips empty candidates but keeps blocked ones as content_filter; joins text parts; ignores thoughts', () => {
    const out = geminiToChat({ candidates: [
      { content: { parts: [{ text: '' }] }, finishReason: 'STOP' },
      { content: { parts: [{ text: 'thinking…', thought: true }, { text: 'Hel' }, { text: 'lo' }] }, finishReason: 'STOP' },
      { finishReason: 'SAFETY' },
    ], usageMetadata: { promptTokenCount: 3, candidatesTokenCount: 2, thoughtsTokenCount: 5, totalTokenCount: 10 } }, 'm', NOW);
    expect(out.choices.map((c) => [c.index, c.message.content, c.finish_reason])).toEqual([[1, 'Hello', 'stop'], [2, null, 'content_filter']]);
    expect(out.usage).toEqual({ prompt_tokens: 3, completion_tokens: 7, total_tokens: 10 });
  });

  it('maps a completions answer (field order fixed)', () => {
    const f = fixture('completions.json');
    const out = geminiToCompletions(f.upstreamResponse, 'gemini-2.0-flash', NOW);
    expect(JSON.stringify(out)).toBe(JSON.stringify(f.response));
  });

  it('maps embeddings answers', () => {
    const f = fixture('embeddings.json');
    for (const c of [f.single, f.batch]) {
      expect(JSON.stringify(geminiToEmbeddings(c.upstreamResponse, 'text-embedding-004'))).toBe(JSON.stringify(c.response));
    }
  });

  it.each([
    ['STOP', 'stop'], ['stop', 'stop'], ['MAX_TOKENS', 'length'], ['SAFETY', 'content_filter'], ['RECITATION', 'content_filter'],
    ['PROHIBITED_CONTENT', 'content_filter'], ['MALFORMED_FUNCTION_CALL', 'malformed_function_call'], ['OTHER', 'other'],
    [undefined, null], [null, null],
  ])('normalizes finish reason %s -> %s', (input, out) => {
    expect(normalizeFinishReason(input)).toBe(out);
  });
});

describe('gemini streams', () => {
  it('maps chat stream events, usage on the closing event only', () => {
    const f = fixture('chat-stream.json');
    const map = createChatStreamMapper('gemini-2.0-flash', () => 1);
    const out = f.events.map(map);
    expect(JSON.stringify(out)).toBe(JSON.stringify(f.chunks));
  });

  it('emits whole function calls with increasing tool-call indexes across events', () => {
    const f = fixture('chat-stream-tools.json');
    const map = createChatStreamMapper('gemini-2.0-flash', () => 1);
    expect(f.events.map(map)).toEqual(f.chunks);
  });

  it('maps completions stream events with object text_completion.chunk', () => {
    const f = fixture('completions-stream.json');
    const out = f.events.map((e: unknown) => geminiToCompletionsChunk(e, 'gemini-2.0-flash', 1));
    expect(JSON.stringify(out)).toBe(JSON.stringify(f.chunks));
  });

  it('reads SSE split at every byte, skips non-data lines, stops at [DONE]', async () => {
    const f = fixture('chat-stream.json');
    const text = ': keep-alive\r\n\r\n' + geminiSse(f.events) + 'data: [DONE]\r\n\r\n' + geminiSse([{ never: true }]);
    const bytes = new TextEncoder().encode(text);
    async function* oneByte() { for (const b of bytes) yield new Uint8Array([b]); }
    const events = [];
    for await (const e of geminiStreamEvents(oneByte())) events.push(e);
    expect(events).toEqual(f.events);
  });

  it('turns an error event into a GatewayError', async () => {
    const body = geminiSse([{ candidates: [] }, { error: { code: 429, message: 'Resource has been exhausted', status: 'RESOURCE_EXHAUSTED' } }]);
    const it = geminiStreamEvents((async function* () { yield body; })());
    await it.next();
    const e = await it.next().then(() => null, (err) => err);
    expect(isGatewayError(e)).toBe(true);
    expect(e.status).toBe(429);
    expect(e.message).toBe('Resource has been exhausted');
  });
});

describe('pythonJsonDumps', () => {
  it.each([
    [{ location: 'Singapore' }, '{"location": "Singapore"}'],
    [{ a: [1, 2, { b: null }], c: true, d: false }, '{"a": [1, 2, {"b": null}], "c": true, "d": false}'],
    [{}, '{}'],
    [[], '[]'],
    ['São Paulo 😀', '"S\\u00e3o Paulo \\ud83d\\ude00"'],
    ['quote " slash \\ nl \n tab \t ctl \u0001 del \u007f', '"quote \\" slash \\\\ nl \\n tab \\t ctl \\u0001 del \\u007f"'],
    [31.2, '31.2'],
    [0.00001, '1e-05'],
    [1.5e300, '1.5e+300'],
    [1e-7, '1e-07'],
    [-3, '-3'],
  ])('dumps %j like Python', (value, expected) => {
    expect(pythonJsonDumps(value)).toBe(expected);
  });
});
