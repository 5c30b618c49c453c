/**
 * Pure transforms between the unified (OpenAI-shaped) schema and Anthropic's Messages and legacy
 * Text Completions APIs (spec §11.2). No I/O here: `index.ts` does the calls.
 */
import {
  chatChunk, chatResponse, completionsResponse, excludeNone, GatewayError, nowSeconds, paramError,
  type ChatChunk, type ChatMessage, type ChatRequest, type ChatResponse, type ChatTool, type CompletionsRequest,
  type CompletionsResponse, type ContentPart, type ToolCall,
} from '@gatehouse/sdk';

type Json = any;

/** MLflow's `MLFLOW_AI_GATEWAY_ANTHROPIC_DEFAULT_MAX_TOKENS`. */
export const DEFAULT_MAX_TOKENS = 8192;
/** MLflow's `MLFLOW_AI_GATEWAY_ANTHROPIC_MAXIMUM_MAX_TOKENS`. */
export const MAXIMUM_MAX_TOKENS = 1_000_000;

/** Request keys that the unified schema owns; everything else is forwarded as-is (like MLflow). */
const OWN_KEYS = new Set([
  'messages', 'tools', 'tool_choice', 'stop', 'max_tokens', 'n', 'temperature', 'top_p', 'stream', 'stream_options', 'model', 'prompt',
]);

function extras(req: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(req)) if (!OWN_KEYS.has(k) && v !== null && v !== undefined) out[k] = v;
  return out;
}

function checkMaxTokens(maxTokens: number | null | undefined): number {
  const value = maxTokens ?? DEFAULT_MAX_TOKENS;
  if (value > MAXIMUM_MAX_TOKENS) throw paramError(`Invalid value for max_tokens: cannot exceed ${MAXIMUM_MAX_TOKENS}.`, 'max_tokens');
  return value;
}

function checkN(n: number | null | undefined): void {
  if ((n ?? 1) !== 1) throw paramError(`'n' must be '1' for the Anthropic provider. Received value: '${n}'.`, 'n');
}

const textOf = (content: ChatMessage['content']): string => typeof content === 'string'
  ? content
  : Array.isArray(content) ? content.filter((p) => p.type === 'text').map((p) => (p as { text: string }).text).join('\n') : '';

/** An OpenAI `image_url` (data URL or http(s) URL) as an Anthropic image block. */
function imageBlock(url: string): Json {
  const m = /^data:([^;,]+);base64,(.*)$/s.exec(url);
  if (m) return { type: 'image', source: { type: 'base64', media_type: m[1], data: m[2] } };
  if (/^https?:\/\//i.test(url)) return { type: 'image', source: { type: 'url', url } };
  throw paramError('An image_url must be a data URL (data:<media type>;base64,...) or an http(s) URL for the Anthropic provider.', 'messages');
}

function contentBlocks(parts: ContentPart[]): Json[] {
  return parts.map((p) => {
    if (p.type === 'text') return { type: 'text', text: p.text };
    if (p.type === 'image_url') return imageBlock(p.image_url.url);
    throw paramError(`Content parts of type '${(p as { type: string }).type}' are not supported by the Anthropic provider.`, 'messages');
  });
}

function parseArguments(call: ToolCall): unknown {
  const raw = call.function?.arguments;
  if (raw === undefined || raw === null || raw === '') return {};
  try { return JSON.parse(raw); } catch {
    throw paramError(`The arguments of tool call '${call.id}' are not valid JSON.`, 'messages');
  }
}

/** Map the unified messages: system messages are returned apart, tool results become user turns. */
export function toAnthropicMessages(messages: ChatMessage[]): { system: string | undefined; messages: Json[] } {
  const system: string[] = [];
  const out: Json[] = [];
  for (const m of messages) {
    if (m.role === 'system' || m.role === 'developer') {
      system.push(textOf(m.content));
    } else if (m.role === 'user') {
      out.push({ role: 'user', content: Array.isArray(m.content) ? contentBlocks(m.content) : m.content ?? '' });
    } else if (m.role === 'assistant') {
      if (m.tool_calls?.length) {
        const blocks: Json[] = [];
        const text = textOf(m.content);
        if (text) blocks.push({ type: 'text', text });
        for (const call of m.tool_calls) {
          blocks.push({ type: 'tool_use', id: call.id, name: call.function?.name, input: parseArguments(call) });
        }
        out.push({ role: 'assistant', content: blocks });
      } else {
        out.push({ role: 'assistant', content: Array.isArray(m.content) ? contentBlocks(m.content) : m.content ?? '' });
      }
    } else if (m.role === 'tool') {
      const block = {
        type: 'tool_result',
        tool_use_id: m.tool_call_id,
        content: Array.isArray(m.content) ? contentBlocks(m.content) : m.content ?? '',
      };
      // Anthropic wants all results for one assistant turn in a single user turn.
      const prev = out[out.length - 1];
      if (prev?.role === 'user' && Array.isArray(prev.content) && prev.content.every((b: Json) => b.type === 'tool_result')) prev.content.push(block);
      else out.push({ role: 'user', content: [block] });
    }
    // Other roles are dropped, as MLflow does.
  }
  return { system: system.length ? system.join('\n') : undefined, messages: out };
}

/** OpenAI function tools as Anthropic tools; a tool without a description simply has none. */
export function toAnthropicTools(tools: ChatTool[]): Json[] {
  return tools.map((t) => {
    if (t.type !== 'function' || !t.function) {
      throw paramError(`Only tools of type 'function' are supported by the Anthropic provider, got '${t.type}'.`, 'tools');
    }
    const tool: Json = { name: t.function.name };
    if (t.function.description !== undefined && t.function.description !== null) tool.description = t.function.description;
    tool.input_schema = t.function.parameters ?? { type: 'object', properties: {} };
    return tool;
  });
}

/** OpenAI `tool_choice` as Anthropic's; an Anthropic-shaped object passes through. */
export function toAnthropicToolChoice(choice: unknown): Json {
  if (choice === 'auto') return { type: 'auto' };
  if (choice === 'required') return { type: 'any' };
  if (choice === 'none') return { type: 'none' };
  if (choice && typeof choice === 'object') {
    const c = choice as { type?: string; function?: { name?: string } };
    if (c.type === 'function' && c.function?.name) return { type: 'tool', name: c.function.name };
    if (c.type && ['auto', 'any', 'tool', 'none'].includes(c.type)) return choice;
  }
  throw paramError(`Unsupported tool_choice value: ${JSON.stringify(choice)}.`, 'tool_choice');
}

/**
 * The Messages API body for a unified chat request (MLflow's `chat_to_model`).
 * @param model the endpoint's `model.name`
 */
export function toAnthropicChat(req: ChatRequest, model: string | null, stream: boolean): Record<string, unknown> {
  if (req.top_p !== undefined && req.top_p !== null && req.temperature !== undefined && req.temperature !== null) {
    throw paramError("Cannot set both 'temperature' and 'top_p' parameters.", 'top_p');
  }
  const maxTokens = checkMaxTokens(req.max_tokens);
  checkN(req.n);
  const { system, messages } = toAnthropicMessages(req.messages);
  const body: Record<string, unknown> = { model, messages };
  if (system !== undefined) body.system = system;
  body.max_tokens = maxTokens;
  if (req.temperature !== undefined && req.temperature !== null) body.temperature = req.temperature * 0.5;
  if (req.top_p !== undefined && req.top_p !== null) body.top_p = req.top_p;
  if (req.stop) body.stop_sequences = req.stop;
  if (req.tools?.length) body.tools = toAnthropicTools(req.tools);
  if (req.tool_choice !== undefined && req.tool_choice !== null) body.tool_choice = toAnthropicToolChoice(req.tool_choice);
  Object.assign(body, extras(req));
  if (stream) body.stream = true;
  return excludeNone(body);
}

/** Anthropic `stop_reason` as an OpenAI `finish_reason`. */
export function finishReason(stopReason: string | null | undefined): string | null {
  switch (stopReason) {
    case null: case undefined: return null;
    case 'max_tokens': case 'model_context_window_exceeded': return 'length';
    case 'tool_use': return 'tool_calls';
    case 'refusal': return 'content_filter';
    default: return 'stop'; // end_turn, stop_sequence, pause_turn
  }
}

/** Prompt tokens including cache reads/writes, which Anthropic counts apart from `input_tokens`. */
const promptTokens = (u: Json): number | null => {
  if (!u || typeof u.input_tokens !== 'number') return null;
  return u.input_tokens + (u.cache_creation_input_tokens ?? 0) + (u.cache_read_input_tokens ?? 0);
};

/** A Messages API answer as a unified chat response: text joined into one string, tool_use blocks as tool_calls. */
export function fromAnthropicChat(js: Json): ChatResponse {
  const blocks: Json[] = Array.isArray(js.content) ? js.content : [];
  const texts = blocks.filter((b) => b.type === 'text').map((b) => b.text as string);
  const toolCalls: ToolCall[] = blocks.filter((b) => b.type === 'tool_use').map((b) => ({
    id: b.id, type: 'function', function: { name: b.name, arguments: JSON.stringify(b.input ?? {}) },
  }));
  return chatResponse({
    id: js.id ?? null,
    created: nowSeconds(),
    model: js.model ?? '',
    choices: [{
      index: 0,
      message: { role: 'assistant', content: texts.length ? texts.join('') : null, tool_calls: toolCalls },
      finish_reason: finishReason(js.stop_reason),
    }],
    usage: { prompt_tokens: promptTokens(js.usage), completion_tokens: js.usage?.output_tokens ?? null },
  });
}

const ERROR_STATUS: Record<string, number> = {
  invalid_request_error: 400,
  authentication_error: 401,
  billing_error: 402,
  permission_error: 403,
  not_found_error: 404,
  request_too_large: 413,
  rate_limit_error: 429,
  api_error: 500,
  timeout_error: 504,
  overloaded_error: 529,
};

/** An Anthropic `error` stream event as a GatewayError (status from the error type, message as detail). */
export function streamError(js: Json): GatewayError {
  const type: string = js?.error?.type ?? 'api_error';
  const message: string = js?.error?.message ?? `Anthropic stream error (${type})`;
  return new GatewayError('GW_ERR_UPSTREAM_STATUS', message, { status: ERROR_STATUS[type] ?? 502 });
}

/**
 * Turns Anthropic stream events into unified chat chunks, one event at a time.
 * Choice index is always 0; tool calls are numbered in the order their blocks start (OpenAI's
 * `tool_calls[].index`); the finish chunk carries `finish_reason` and usage.
 */
export class AnthropicChatStream {
  private id: string | null = null;
  private model: string;
  private readonly created = nowSeconds();
  private inputUsage: Json = null;
  private roleSent = false;
  private readonly toolIndex = new Map<number, number>();
  /** True once `message_stop` (or a finish) was seen: the stream is complete. */
  done = false;

  constructor(model: string | null) { this.model = model ?? ''; }

  private chunk(delta: { content?: string | null; tool_calls?: Json[] }, extra: { finish_reason?: string | null; usage?: Json } = {}): ChatChunk {
    const role = this.roleSent ? null : 'assistant';
    this.roleSent = true;
    return chatChunk({
      id: this.id, created: this.created, model: this.model,
      choices: [{ index: 0, finish_reason: extra.finish_reason ?? null, delta: { role, ...delta } }],
      usage: extra.usage,
    });
  }

  /** Map one parsed event (the `data:` JSON); returns zero or more chunks, or throws on an error event. */
  push(ev: Json): ChatChunk[] {
    switch (ev?.type) {
      case 'message_start':
        this.id = ev.message?.id ?? null;
        if (ev.message?.model) this.model = ev.message.model;
        this.inputUsage = ev.message?.usage ?? null;
        return [];
      case 'content_block_start': {
        const b = ev.content_block ?? {};
        if (b.type === 'text' && b.text) return [this.chunk({ content: b.text })];
        if (b.type === 'tool_use') {
          const idx = this.toolIndex.size;
          this.toolIndex.set(ev.index, idx);
          return [this.chunk({ tool_calls: [{ index: idx, id: b.id, type: 'function', function: { name: b.name, arguments: '' } }] })];
        }
        return [];
      }
      case 'content_block_delta': {
        const d = ev.delta ?? {};
        if (d.type === 'text_delta' && d.text) return [this.chunk({ content: d.text })];
        if (d.type === 'input_json_delta' && d.partial_json) {
          const idx = this.toolIndex.get(ev.index) ?? 0;
          return [this.chunk({ tool_calls: [{ index: idx, function: { arguments: d.partial_json } }] })];
        }
        return []; // thinking, signature and citation deltas are not part of the unified schema
      }
      case 'message_delta': {
        const u = ev.usage ?? {};
        const prompt = promptTokens(typeof u.input_tokens === 'number' ? u : this.inputUsage);
        const usage = { prompt_tokens: prompt, completion_tokens: u.output_tokens ?? null };
        this.done = true;
        return [this.chunk({}, { finish_reason: finishReason(ev.delta?.stop_reason) ?? 'stop', usage })];
      }
      case 'message_stop':
        this.done = true;
        return [];
      case 'error':
        throw streamError(ev);
      default:
        return []; // ping, content_block_stop, future event types
    }
  }
}

/** The legacy Text Completions prompt: `\n\nHuman: <prompt>\n\nAssistant:`. */
export function anthropicPrompt(prompt: string): string {
  let p = prompt;
  if (p.startsWith('Human: ')) p = '\n\n' + p;
  if (!p.startsWith('\n\nHuman: ')) p = '\n\nHuman: ' + p;
  if (!p.endsWith('\n\nAssistant:')) p = p + '\n\nAssistant:';
  return p;
}

/** The legacy `/v1/complete` body (MLflow's `completions_to_model`). */
export function toAnthropicCompletions(req: CompletionsRequest, model: string | null): Record<string, unknown> {
  // MLflow refused any `top_p` because it always sent a temperature; now that an omitted
  // temperature is not sent, only the pair is refused, and `top_p` alone is forwarded.
  if (req.top_p !== undefined && req.top_p !== null && req.temperature !== undefined && req.temperature !== null) {
    throw paramError("Cannot set both 'temperature' and 'top_p' parameters. Please use only the temperature parameter for your query.", 'top_p');
  }
  const maxTokens = checkMaxTokens(req.max_tokens);
  if (req.stream) throw paramError("Setting the 'stream' parameter to 'true' is not supported with the MLflow Gateway.", 'stream');
  checkN(req.n);
  const body: Record<string, unknown> = { model, prompt: anthropicPrompt(req.prompt), max_tokens_to_sample: maxTokens };
  if (req.temperature !== undefined && req.temperature !== null) body.temperature = req.temperature * 0.5;
  if (req.top_p !== undefined && req.top_p !== null) body.top_p = req.top_p;
  if (req.stop) body.stop_sequences = req.stop;
  Object.assign(body, extras(req));
  return excludeNone(body);
}

/** A `/v1/complete` answer as a unified completions response (MLflow: id and usage null). */
export function fromAnthropicCompletions(js: Json, fallbackModel: string | null): CompletionsResponse {
  return completionsResponse({
    id: null,
    created: nowSeconds(),
    model: js.model ?? fallbackModel ?? '',
    choices: [{ index: 0, text: js.completion ?? '', finish_reason: js.stop_reason === 'stop_sequence' ? 'stop' : 'length' }],
  });
}
