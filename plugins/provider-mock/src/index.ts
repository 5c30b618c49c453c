import { createHash } from 'node:crypto';
import {
  chatChunk, chatResponse, completionsChunk, completionsResponse, defineProvider, embeddingsResponse, nowSeconds, paramError,
  type CallContext, type ChatMessage, type ChatTool,
} from '@gatehouse/sdk';

export interface MockConfig {
  /** Fixed reply text; default: an echo of the last user message. */
  reply?: string;
  /** Delay before a non-streaming answer or the first stream chunk. */
  latency_ms?: number;
  /** Delay between stream chunks. */
  chunk_delay_ms?: number;
  /** Embedding vector size. */
  dimensions?: number;
  /** Answer requests that offer function tools with a call to one of them (see `mockToolCall`). */
  tool_calls?: boolean;
  /** The arguments of that call (default `{}`). */
  tool_arguments?: Record<string, unknown>;
}

/**
 * The deterministic tool call of `tool_calls: true`: when the request offers function tools,
 * `tool_choice` is not `none` and the last message is not a tool result, call the function
 * `tool_choice` names, or else the first one. After a tool result, `toolResultReply` answers.
 */
export function mockToolCall(req: { messages: ChatMessage[]; tools?: ChatTool[] | null; tool_choice?: unknown }, args: Record<string, unknown> = {}): { name: string; arguments: string } | null {
  const fns = (req.tools ?? []).filter((t) => t.type === 'function' && t.function?.name);
  if (!fns.length || req.tool_choice === 'none') return null;
  if (req.messages[req.messages.length - 1]?.role === 'tool') return null;
  const chosen = req.tool_choice as { function?: { name?: string } } | undefined;
  const name = chosen?.function?.name ?? fns[0]!.function!.name;
  return { name, arguments: JSON.stringify(args) };
}

/** The reply of `tool_calls: true` after a tool result: it names what the tool returned. */
export const toolResultReply = (messages: ChatMessage[]): string | null => {
  const last = messages[messages.length - 1];
  return last?.role === 'tool' ? `This is a mock response from Gatehouse. The tool returned: ${textOf(last)}` : null;
};

/** The most choices the mock makes: OpenAI's bound on `n`, which the request schemas enforce too. */
export const MAX_CHOICES = 128;

/** An integer parameter the mock does work proportional to, checked against its bounds (never an unchecked number). */
function bounded(param: string, v: unknown, max: number): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1 || v > max) {
    throw paramError(`'${param}' must be an integer from 1 to ${max} for the Mock provider. Received value: '${String(v)}'.`, param);
  }
  return v;
}

/** `n` as a number of choices (omitted or null: one). */
export const choiceCount = (n: unknown): number => (n === undefined || n === null ? 1 : bounded('n', n, MAX_CHOICES));

/** The largest embedding the mock makes. */
export const MAX_DIMENSIONS = 4096;

/**
 * The embedding size: the request's `dimensions` (OpenAI's parameter), else the config's. A
 * `dimensions` in `model.config` reaches the mock as the former: it is a request parameter of
 * embeddings endpoints, so the kernel takes it as the endpoint's default.
 */
export const embeddingSize = (requested: unknown, configured: number): number => bounded('dimensions', requested ?? configured, MAX_DIMENSIONS);

const sleep = (ms: number, signal: AbortSignal) => new Promise<void>((resolve, reject) => {
  if (ms <= 0) return resolve();
  if (signal.aborted) return reject(signal.reason);
  const t = setTimeout(() => { signal.removeEventListener('abort', onAbort); resolve(); }, ms);
  const onAbort = () => { clearTimeout(t); reject(signal.reason); };
  signal.addEventListener('abort', onAbort, { once: true });
});

const words = (s: string) => s.split(/\s+/).filter(Boolean);

const textOf = (m: ChatMessage): string => typeof m.content === 'string'
  ? m.content
  : Array.isArray(m.content) ? m.content.map((p) => (p.type === 'text' ? p.text : '')).join(' ') : '';

/** Deterministic unit vector from a text. */
export function mockEmbedding(text: string, dimensions: number): number[] {
  const out: number[] = [];
  let block = createHash('sha256').update(text).digest();
  for (let i = 0; out.length < dimensions; i++) {
    if (i * 2 + 2 > block.length) { block = createHash('sha256').update(block).digest(); i = 0; }
    out.push(block.readInt16BE(i * 2) / 32768);
  }
  const norm = Math.sqrt(out.reduce((s, x) => s + x * x, 0)) || 1;
  return out.map((x) => Math.round((x / norm) * 1e6) / 1e6);
}

/** Answers without any network: for trying the gateway, users' CI, and load-testing the gateway itself. */
export default defineProvider<MockConfig>({
  name: 'mock',
  displayName: 'Mock',
  requiresConfig: false,
  capabilities: ['chat', 'chatStream', 'completions', 'completionsStream', 'embeddings'],
  configSchema: {
    type: 'object',
    additionalProperties: false,
    properties: {
      reply: { type: 'string', description: 'Fixed reply; default echoes the last user message.' },
      latency_ms: { type: 'number', minimum: 0, default: 0, description: 'Delay before answering.' },
      chunk_delay_ms: { type: 'number', minimum: 0, default: 10, description: 'Delay between stream chunks.' },
      dimensions: { type: 'integer', minimum: 1, maximum: 4096, default: 8, description: 'Embedding size.' },
      tool_calls: { type: 'boolean', default: false, description: 'Answer requests that offer function tools with a call to the first one (or the one tool_choice names).' },
      tool_arguments: { type: 'object', default: {}, description: 'The arguments of that tool call.' },
    },
  },
  create({ config, model, endpoint }) {
    const cfg = { latency_ms: 0, chunk_delay_ms: 10, dimensions: 8, ...config };
    const modelName = model.name ?? 'mock';
    const idFor = (kind: string, text: string) => `mock-${kind}-${createHash('sha1').update(endpoint.name + '\0' + text).digest('hex').slice(0, 12)}`;
    const reply = (input: string) => cfg.reply ?? `This is a mock response from Gatehouse. You said: ${input}`;
    const limit = (text: string, max: number | null | undefined) => {
      const w = words(text);
      return max && w.length > max ? { text: w.slice(0, max).join(' '), finish: 'length' } : { text, finish: 'stop' };
    };
    const chatInput = (messages: ChatMessage[]) => {
      const user = [...messages].reverse().find((m) => m.role === 'user');
      return user ? textOf(user) : textOf(messages[messages.length - 1]!);
    };
    const promptTokens = (texts: string[]) => texts.reduce((n, t) => n + words(t).length, 0);

    async function* streamWords(text: string, call: CallContext) {
      await sleep(cfg.latency_ms, call.signal);
      const parts = text.split(/(?<=\s)/);
      for (let i = 0; i < parts.length; i++) {
        if (i > 0) await sleep(cfg.chunk_delay_ms, call.signal);
        yield parts[i]!;
      }
    }

    const toolCall = (req: Parameters<typeof mockToolCall>[0]) => (cfg.tool_calls ? mockToolCall(req, cfg.tool_arguments) : null);
    const callId = (name: string, input: string) => `call_${createHash('sha1').update(endpoint.name + '\0' + name + '\0' + input).digest('hex').slice(0, 16)}`;
    const toolReply = (messages: ChatMessage[]) => (cfg.tool_calls && cfg.reply === undefined ? toolResultReply(messages) : null);

    return {
      async chat(req, call) {
        await sleep(cfg.latency_ms, call.signal);
        const input = chatInput(req.messages);
        const tc = toolCall(req);
        if (tc) {
          return chatResponse({
            id: idFor('chat', input), created: nowSeconds(), model: modelName,
            choices: [{ message: { role: 'assistant', content: null, tool_calls: [{ id: callId(tc.name, input), type: 'function', function: tc }] }, finish_reason: 'tool_calls' }],
            usage: { prompt_tokens: promptTokens(req.messages.map(textOf)), completion_tokens: words(tc.arguments).length },
          });
        }
        const afterTool = toolReply(req.messages);
        if (afterTool !== null) {
          const { text, finish } = limit(afterTool, req.max_tokens);
          return chatResponse({
            id: idFor('chat', input), created: nowSeconds(), model: modelName,
            choices: [{ message: { role: 'assistant', content: text }, finish_reason: finish }],
            usage: { prompt_tokens: promptTokens(req.messages.map(textOf)), completion_tokens: words(text).length },
          });
        }
        const { text, finish } = limit(reply(input), req.max_tokens);
        const n = choiceCount(req.n);
        return chatResponse({
          id: idFor('chat', input), created: nowSeconds(), model: modelName,
          choices: Array.from({ length: n }, () => ({ message: { role: 'assistant', content: text }, finish_reason: finish })),
          usage: { prompt_tokens: promptTokens(req.messages.map(textOf)), completion_tokens: words(text).length * n },
        });
      },
      async *chatStream(req, call) {
        const input = chatInput(req.messages);
        const id = idFor('chat', input);
        const created = nowSeconds();
        const tc = toolCall(req);
        if (tc) {
          // The call as OpenAI streams one: id and name first, then the arguments in two pieces.
          await sleep(cfg.latency_ms, call.signal);
          const cut = Math.ceil(tc.arguments.length / 2);
          yield chatChunk({ id, created, model: modelName, choices: [{ delta: { role: 'assistant', tool_calls: [{ index: 0, id: callId(tc.name, input), type: 'function', function: { name: tc.name, arguments: '' } }] } }] });
          for (const piece of [tc.arguments.slice(0, cut), tc.arguments.slice(cut)]) {
            await sleep(cfg.chunk_delay_ms, call.signal);
            yield chatChunk({ id, created, model: modelName, choices: [{ delta: { tool_calls: [{ index: 0, function: { arguments: piece } }] } }] });
          }
          yield chatChunk({ id, created, model: modelName, choices: [{ finish_reason: 'tool_calls', delta: {} }] });
          yield chatChunk({ id, created, model: modelName, choices: [], usage: { prompt_tokens: promptTokens(req.messages.map(textOf)), completion_tokens: words(tc.arguments).length } });
          return;
        }
        const { text, finish } = limit(toolReply(req.messages) ?? reply(input), req.max_tokens);
        let first = true;
        for await (const piece of streamWords(text, call)) {
          yield chatChunk({ id, created, model: modelName, choices: [{ delta: { role: first ? 'assistant' : null, content: piece } }] });
          first = false;
        }
        yield chatChunk({ id, created, model: modelName, choices: [{ finish_reason: finish, delta: {} }] });
        yield chatChunk({ id, created, model: modelName, choices: [], usage: { prompt_tokens: promptTokens(req.messages.map(textOf)), completion_tokens: words(text).length } });
      },
      async completions(req, call) {
        await sleep(cfg.latency_ms, call.signal);
        const { text, finish } = limit(reply(req.prompt), req.max_tokens);
        const n = choiceCount(req.n);
        return completionsResponse({
          id: idFor('cmpl', req.prompt), created: nowSeconds(), model: modelName,
          choices: Array.from({ length: n }, () => ({ text, finish_reason: finish })),
          usage: { prompt_tokens: words(req.prompt).length, completion_tokens: words(text).length * n },
        });
      },
      async *completionsStream(req, call) {
        const { text, finish } = limit(reply(req.prompt), req.max_tokens);
        const id = idFor('cmpl', req.prompt);
        const created = nowSeconds();
        for await (const piece of streamWords(text, call)) {
          yield completionsChunk({ id, created, model: modelName, choices: [{ text: piece }] });
        }
        yield completionsChunk({ id, created, model: modelName, choices: [{ finish_reason: finish, text: '' }] });
        yield completionsChunk({ id, created, model: modelName, choices: [], usage: { prompt_tokens: words(req.prompt).length, completion_tokens: words(text).length } });
      },
      async embeddings(req, call) {
        const dimensions = embeddingSize(req.dimensions, cfg.dimensions);
        await sleep(cfg.latency_ms, call.signal);
        const inputs: string[] = typeof req.input === 'string' ? [req.input]
          : (req.input as unknown[]).every((x) => typeof x === 'number') ? [(req.input as number[]).join(' ')]
          : (req.input as Array<string | number[]>).map((x) => (typeof x === 'string' ? x : x.join(' ')));
        const tokens = promptTokens(inputs);
        return embeddingsResponse({ model: modelName, data: inputs.map((t) => mockEmbedding(t, dimensions)), usage: { prompt_tokens: tokens, total_tokens: tokens } });
      },
    };
  },
});
