/**
 * Pure transforms between Anthropic's Messages API and the unified (OpenAI-shaped) chat schema,
 * in the direction a gateway surface needs: an Anthropic request in, a unified chat body out; a
 * unified answer or chunk stream in, Anthropic's message or event sequence out.
 */
import {
  GatewayError, type ChatChunk, type ChatMessage, type ChatResponse, type ContentPart, type ToolCall, type Usage,
} from '@gatehouse/sdk';

type Json = any;

const isObject = (x: unknown): x is Record<string, any> => typeof x === 'object' && x !== null && !Array.isArray(x);

const bad = (message: string, param: string | null = null) => new GatewayError('GW_ERR_REQUEST_BAD', message, { param });

/** Request fields accepted and not forwarded: they change nothing a gateway in front of any provider can honour. */
const IGNORED = new Set([
  'model', 'metadata', 'service_tier', 'cache_control', 'context_management', 'diagnostics', 'inference_geo', 'speed', 'user_profile_id',
  'workspace_id',
]);
const KNOWN = new Set([
  ...IGNORED, 'messages', 'system', 'max_tokens', 'tools', 'tool_choice', 'stop_sequences', 'temperature', 'top_p', 'top_k', 'stream',
  'thinking', 'mcp_servers', 'container', 'output_config',
]);

function textBlocks(content: unknown, param: string): string {
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) throw bad(`${param}: Input should be a valid string or list of content blocks`, param);
  return content.map((b, i) => {
    if (isObject(b) && b.type === 'text' && typeof b.text === 'string') return b.text;
    throw bad(`${param}.${i}: only text blocks are supported here, got '${isObject(b) ? b.type : typeof b}'`, `${param}.${i}`);
  }).join('\n');
}

function imagePart(block: Record<string, any>, param: string): ContentPart {
  const src = block.source;
  if (isObject(src) && src.type === 'base64' && typeof src.media_type === 'string' && typeof src.data === 'string') {
    return { type: 'image_url', image_url: { url: `data:${src.media_type};base64,${src.data}` } };
  }
  if (isObject(src) && src.type === 'url' && typeof src.url === 'string') return { type: 'image_url', image_url: { url: src.url } };
  throw bad(`${param}.source: images must be a base64 or url source (file sources are not supported by this gateway)`, `${param}.source`);
}

/** A `tool_result` block's content as the text of a tool message. */
function toolResultText(content: unknown, param: string): string {
  if (content === undefined || content === null) return '';
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) throw bad(`${param}: Input should be a valid string or list of content blocks`, param);
  return content.map((b, i) => {
    if (isObject(b) && b.type === 'text' && typeof b.text === 'string') return b.text;
    throw bad(`${param}.${i}: tool results may hold text blocks only on this gateway, got '${isObject(b) ? b.type : typeof b}'`, `${param}.${i}`);
  }).join('\n');
}

/** Anthropic messages (and `system`) as unified chat messages. */
export function toChatMessages(messages: unknown, system: unknown): ChatMessage[] {
  const out: ChatMessage[] = [];
  if (system !== undefined && system !== null) {
    const text = textBlocks(system, 'system');
    if (text) out.push({ role: 'system', content: text });
  }
  if (!Array.isArray(messages) || messages.length === 0) throw bad('messages: at least one message is required', 'messages');
  messages.forEach((m, i) => {
    const at = `messages.${i}`;
    if (!isObject(m)) throw bad(`${at}: Input should be a valid dictionary`, at);
    if (m.role === 'user') {
      if (typeof m.content === 'string') { out.push({ role: 'user', content: m.content }); return; }
      if (!Array.isArray(m.content)) throw bad(`${at}.content: Input should be a valid string or list of content blocks`, `${at}.content`);
      // Tool results become tool messages, before the rest of the turn (OpenAI wants them right after the calls).
      const parts: ContentPart[] = [];
      m.content.forEach((b: unknown, j: number) => {
        const bat = `${at}.content.${j}`;
        if (!isObject(b)) throw bad(`${bat}: Input should be a valid dictionary`, bat);
        if (b.type === 'text') {
          if (typeof b.text !== 'string') throw bad(`${bat}.text: Field required`, `${bat}.text`);
          parts.push({ type: 'text', text: b.text });
        } else if (b.type === 'image') {
          parts.push(imagePart(b, bat));
        } else if (b.type === 'tool_result') {
          if (typeof b.tool_use_id !== 'string') throw bad(`${bat}.tool_use_id: Field required`, `${bat}.tool_use_id`);
          const text = toolResultText(b.content, `${bat}.content`);
          out.push({ role: 'tool', tool_call_id: b.tool_use_id, content: b.is_error === true ? `Error: ${text}` : text });
        } else {
          throw bad(`${bat}: content blocks of type '${String(b.type)}' are not supported by this gateway`, `${bat}.type`);
        }
      });
      if (parts.length) out.push({ role: 'user', content: parts.every((p) => p.type === 'text') ? parts.map((p) => (p as { text: string }).text).join('\n') : parts });
    } else if (m.role === 'assistant') {
      if (typeof m.content === 'string') { out.push({ role: 'assistant', content: m.content }); return; }
      if (!Array.isArray(m.content)) throw bad(`${at}.content: Input should be a valid string or list of content blocks`, `${at}.content`);
      const texts: string[] = [];
      const calls: ToolCall[] = [];
      m.content.forEach((b: unknown, j: number) => {
        const bat = `${at}.content.${j}`;
        if (!isObject(b)) throw bad(`${bat}: Input should be a valid dictionary`, bat);
        if (b.type === 'text' && typeof b.text === 'string') texts.push(b.text);
        else if (b.type === 'tool_use') {
          if (typeof b.id !== 'string' || typeof b.name !== 'string') throw bad(`${bat}: a tool_use block needs 'id' and 'name'`, bat);
          calls.push({ id: b.id, type: 'function', function: { name: b.name, arguments: JSON.stringify(b.input ?? {}) } });
        } else if (b.type === 'thinking' || b.type === 'redacted_thinking') {
          // Thinking is not part of the unified schema; earlier turns' thinking is dropped.
        } else {
          throw bad(`${bat}: content blocks of type '${String(b.type)}' are not supported by this gateway`, `${bat}.type`);
        }
      });
      const msg: ChatMessage = { role: 'assistant', content: texts.length ? texts.join('') : null };
      if (calls.length) msg.tool_calls = calls;
      out.push(msg);
    } else {
      throw bad(`${at}.role: Input should be 'user' or 'assistant'`, `${at}.role`);
    }
  });
  return out;
}

function toChatTools(tools: unknown): Json[] | undefined {
  if (tools === undefined || tools === null) return undefined;
  if (!Array.isArray(tools)) throw bad('tools: Input should be a valid list', 'tools');
  if (tools.length === 0) return undefined;
  return tools.map((t, i) => {
    const at = `tools.${i}`;
    if (!isObject(t)) throw bad(`${at}: Input should be a valid dictionary`, at);
    if (t.type !== undefined && t.type !== null && t.type !== 'custom') {
      throw bad(`${at}: server and built-in tools ('${String(t.type)}') are not supported by this gateway; only custom tools with an input_schema are`, `${at}.type`);
    }
    if (typeof t.name !== 'string' || !t.name) throw bad(`${at}.name: Field required`, `${at}.name`);
    if (!isObject(t.input_schema)) throw bad(`${at}.input_schema: Field required`, `${at}.input_schema`);
    const fn: Json = { name: t.name, parameters: t.input_schema };
    if (typeof t.description === 'string') fn.description = t.description;
    return { type: 'function', function: fn };
  });
}

function toChatToolChoice(choice: unknown): Json {
  if (choice === undefined || choice === null) return undefined;
  if (!isObject(choice)) throw bad('tool_choice: Input should be a valid dictionary', 'tool_choice');
  switch (choice.type) {
    case 'auto': return 'auto';
    case 'any': return 'required';
    case 'none': return 'none';
    case 'tool':
      if (typeof choice.name !== 'string') throw bad('tool_choice.name: Field required', 'tool_choice.name');
      return { type: 'function', function: { name: choice.name } };
    default: throw bad(`tool_choice.type: Input should be 'auto', 'any', 'tool' or 'none'`, 'tool_choice.type');
  }
}

/**
 * An Anthropic Messages request as a unified chat body. `temperature` is doubled: Anthropic's
 * range is 0–1, the unified one OpenAI's 0–2 (the Anthropic provider halves it again, so a call
 * through to Anthropic keeps the caller's exact value).
 */
export function toChatBody(body: Record<string, any>): { chat: Record<string, unknown>; stream: boolean } {
  for (const k of Object.keys(body)) if (!KNOWN.has(k)) throw bad(`${k}: Extra inputs are not permitted`, k);
  if (body.thinking !== undefined && body.thinking !== null && !(isObject(body.thinking) && body.thinking.type === 'disabled')) {
    throw bad('thinking: extended thinking is not supported by this gateway', 'thinking');
  }
  if (body.mcp_servers !== undefined) throw bad('mcp_servers: MCP servers are not supported by this gateway', 'mcp_servers');
  if (body.container !== undefined) throw bad('container: containers are not supported by this gateway', 'container');
  const maxTokens = body.max_tokens;
  if (maxTokens === undefined || maxTokens === null) throw bad('max_tokens: Field required', 'max_tokens');
  if (typeof maxTokens !== 'number' || !Number.isInteger(maxTokens) || maxTokens < 1) throw bad('max_tokens: Input should be a positive integer', 'max_tokens');
  const chat: Record<string, unknown> = { messages: toChatMessages(body.messages, body.system), max_tokens: maxTokens };
  if (body.temperature !== undefined && body.temperature !== null) {
    if (typeof body.temperature !== 'number' || body.temperature < 0 || body.temperature > 1) throw bad('temperature: Input should be a number between 0 and 1', 'temperature');
    chat.temperature = body.temperature * 2;
  }
  if (body.top_p !== undefined && body.top_p !== null) {
    if (typeof body.top_p !== 'number' || body.top_p < 0 || body.top_p > 1) throw bad('top_p: Input should be a number between 0 and 1', 'top_p');
    chat.top_p = body.top_p;
  }
  if (body.top_k !== undefined && body.top_k !== null) {
    if (typeof body.top_k !== 'number' || !Number.isInteger(body.top_k) || body.top_k < 0) throw bad('top_k: Input should be a non-negative integer', 'top_k');
    chat.top_k = body.top_k;
  }
  if (body.stop_sequences !== undefined && body.stop_sequences !== null) {
    if (!Array.isArray(body.stop_sequences) || !body.stop_sequences.every((s: unknown) => typeof s === 'string')) {
      throw bad('stop_sequences: Input should be a valid list of strings', 'stop_sequences');
    }
    if (body.stop_sequences.length) chat.stop = body.stop_sequences;
  }
  const tools = toChatTools(body.tools);
  if (tools) chat.tools = tools;
  const choice = toChatToolChoice(body.tool_choice);
  if (choice !== undefined && tools) chat.tool_choice = choice;
  const format = isObject(body.output_config) ? body.output_config.format : undefined;
  if (format !== undefined && format !== null) {
    if (!isObject(format) || format.type !== 'json_schema' || !isObject(format.schema)) throw bad("output_config.format: only {type: 'json_schema', schema} is supported", 'output_config.format');
    chat.response_format = { type: 'json_schema', json_schema: { name: 'output', schema: format.schema } };
  }
  const stream = body.stream === true;
  if (stream) { chat.stream = true; chat.stream_options = { include_usage: true }; }
  return { chat, stream };
}

/** A unified `finish_reason` as Anthropic's `stop_reason`. */
export function stopReason(finish: string | null | undefined): string {
  switch (finish) {
    case 'length': return 'max_tokens';
    case 'tool_calls': case 'function_call': return 'tool_use';
    case 'content_filter': return 'refusal';
    default: return 'end_turn';
  }
}

export function anthropicUsage(u: Usage | null | undefined): { input_tokens: number; output_tokens: number } {
  return { input_tokens: u?.prompt_tokens ?? 0, output_tokens: u?.completion_tokens ?? 0 };
}

/** Message ids derived from the invocation id. */
export const messageId = (invocationId: string): string => `msg_${invocationId.replace(/[^A-Za-z0-9]/g, '').slice(0, 40) || 'gatehouse'}`;

function toolInput(call: ToolCall): unknown {
  const raw = call.function?.arguments;
  if (raw === undefined || raw === null || raw.trim() === '') return {};
  try { return JSON.parse(raw); } catch {
    throw new GatewayError('GW_ERR_UPSTREAM_BAD_RESPONSE', `The model called tool '${call.function?.name ?? ''}' with arguments that are not valid JSON.`);
  }
}

/** A unified chat answer as an Anthropic Message (first choice). */
export function toMessage(res: ChatResponse, id: string): Json {
  const choice = res.choices[0];
  const content: Json[] = [];
  if (choice) {
    const c = choice.message.content;
    const text = typeof c === 'string' ? c : Array.isArray(c) ? c.map((p) => (p.type === 'text' ? p.text : '')).join('') : '';
    if (text) content.push({ type: 'text', text });
    for (const call of choice.message.tool_calls ?? []) {
      content.push({ type: 'tool_use', id: call.id, name: call.function?.name ?? '', input: toolInput(call) });
    }
  }
  return {
    id, type: 'message', role: 'assistant', model: res.model, content,
    stop_reason: stopReason(choice?.finish_reason), stop_sequence: null, usage: anthropicUsage(res.usage),
  };
}

/**
 * A unified chat stream as Anthropic's event sequence: `message_start`, `ping`, then per block
 * `content_block_start`, `content_block_delta`*, `content_block_stop` (text deltas `text_delta`,
 * tool arguments `input_json_delta`), then `message_delta` (stop reason, usage) and
 * `message_stop`. Every event's `type` is also its SSE event name.
 */
export async function* messageEvents(chunks: AsyncIterable<ChatChunk>, p: { id: string; model: string }): AsyncGenerator<Json> {
  let model = p.model;
  let started = false;
  let index = -1;
  let open: { kind: 'text' } | { kind: 'tool'; key: number } | null = null;
  const toolBlocks = new Map<number, number>();
  let usage: Usage | undefined;
  let finish: string | null = null;
  const start = () => ({
    type: 'message_start',
    message: { id: p.id, type: 'message', role: 'assistant', model, content: [], stop_reason: null, stop_sequence: null, usage: { input_tokens: 0, output_tokens: 0 } },
  });
  const stop = (): Json[] => {
    if (!open) return [];
    open = null;
    return [{ type: 'content_block_stop', index }];
  };
  for await (const chunk of chunks) {
    if (!started) {
      started = true;
      if (chunk.model) model = chunk.model;
      yield start();
      yield { type: 'ping' };
    }
    if (chunk.usage) usage = chunk.usage;
    const choice = chunk.choices.find((c) => c.index === 0);
    if (!choice) continue;
    const d = choice.delta;
    if (d?.content) {
      if (open?.kind !== 'text') {
        yield* stop();
        index++;
        open = { kind: 'text' };
        yield { type: 'content_block_start', index, content_block: { type: 'text', text: '' } };
      }
      yield { type: 'content_block_delta', index, delta: { type: 'text_delta', text: d.content } };
    }
    for (const tc of d?.tool_calls ?? []) {
      if (!toolBlocks.has(tc.index)) {
        yield* stop();
        index++;
        toolBlocks.set(tc.index, index);
        open = { kind: 'tool', key: tc.index };
        yield {
          type: 'content_block_start', index,
          content_block: { type: 'tool_use', id: tc.id ?? `toolu_${p.id.slice(4)}_${tc.index}`, name: tc.function?.name ?? '', input: {} },
        };
      }
      const args = tc.function?.arguments;
      if (args) {
        // Deltas for an earlier call than the open block cannot be placed in Anthropic's sequence.
        if (open?.kind !== 'tool' || open.key !== tc.index) {
          throw new GatewayError('GW_ERR_UPSTREAM_BAD_RESPONSE', 'The upstream interleaved the arguments of several tool calls.');
        }
        yield { type: 'content_block_delta', index, delta: { type: 'input_json_delta', partial_json: args } };
      }
    }
    if (choice.finish_reason) finish = choice.finish_reason;
  }
  if (!started) { yield start(); yield { type: 'ping' }; }
  yield* stop();
  const u = anthropicUsage(usage);
  yield { type: 'message_delta', delta: { stop_reason: stopReason(finish), stop_sequence: null }, usage: { input_tokens: u.input_tokens, output_tokens: u.output_tokens } };
  yield { type: 'message_stop' };
}
