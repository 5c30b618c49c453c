/**
 * OpenAI's Responses API (`POST /v1/responses`) translated to and from the endpoint's chat
 * capability, so it works for every provider. Pure functions: the route in `index.ts` calls
 * `GatewayApi.invoke` with what `toChatBody` builds and shapes the answer with `toResponse` or
 * `responseEvents`.
 *
 * Nothing is stored: `previous_response_id`, `conversation` and `background` are refused with a
 * 400. Items this gateway produced recently can still be named by `item_reference` (the Vercel AI
 * SDK sends those for earlier assistant text) through a small in-process `ItemCache`.
 */
import {
  GatewayError, nowSeconds,
  type ChatChunk, type ChatMessage, type ChatResponse, type ContentPart, type ToolCall, type Usage,
} from '@gatehouse/sdk';

type Json = any;

const isObject = (x: unknown): x is Record<string, any> => typeof x === 'object' && x !== null && !Array.isArray(x);

const bad = (message: string, param: string | null = null) => new GatewayError('GW_ERR_REQUEST_BAD', message, { param });

/** Output items the gateway answered recently, by item id, so `item_reference` inputs resolve. Bounded; oldest first out. */
export class ItemCache {
  private readonly items = new Map<string, { item: Json; at: number }>();
  constructor(private readonly max = 10_000, private readonly ttlMs = 60 * 60_000, private readonly now: () => number = Date.now) {}
  put(item: Json): void {
    if (!item?.id) return;
    this.items.delete(item.id);
    this.items.set(item.id, { item, at: this.now() });
    while (this.items.size > this.max) this.items.delete(this.items.keys().next().value!);
  }
  get(id: string): Json | undefined {
    const hit = this.items.get(id);
    if (!hit) return undefined;
    if (this.now() - hit.at > this.ttlMs) { this.items.delete(id); return undefined; }
    return hit.item;
  }
}

/** Built-in tool types OpenAI runs on its side; a gateway in front of any provider cannot. */
const BUILT_IN_TOOLS = /^(web_search|file_search|computer|code_interpreter|image_generation|mcp|local_shell|shell|apply_patch|custom|tool_search)/;

/** Request fields that change nothing a gateway can honour, accepted and ignored. */
const IGNORED = new Set([
  'model', 'store', 'include', 'truncation', 'service_tier', 'user', 'safety_identifier', 'prompt_cache_key',
  'prompt_cache_retention', 'prompt_cache_options', 'top_logprobs', 'max_tool_calls', 'stream_options', 'parallel_tool_calls', 'reasoning',
  'context_management', 'moderation',
]);

const KNOWN = new Set([
  ...IGNORED, 'input', 'instructions', 'tools', 'tool_choice', 'max_output_tokens', 'temperature', 'top_p', 'metadata',
  'stream', 'text', 'previous_response_id', 'conversation', 'background', 'prompt',
]);

/** The request fields echoed on the Response object. */
export interface EchoedParams {
  instructions: string | null;
  max_output_tokens: number | null;
  temperature: number | null;
  top_p: number | null;
  tool_choice: Json;
  tools: Json[];
  metadata: Record<string, string>;
  text: Json;
  parallel_tool_calls: boolean;
  store: boolean;
}

function textOfParts(content: unknown, param: string): string {
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) throw bad(`'${param}' must be a string or a list of content parts.`, param);
  return content.map((p, i) => {
    if (isObject(p) && (p.type === 'input_text' || p.type === 'output_text' || p.type === 'text') && typeof p.text === 'string') return p.text;
    if (isObject(p) && p.type === 'refusal' && typeof p.refusal === 'string') return p.refusal;
    throw bad(`Content part of type '${isObject(p) ? p.type : typeof p}' is not supported here.`, `${param}.${i}`);
  }).join('');
}

function userParts(content: unknown, param: string): string | ContentPart[] {
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) throw bad(`'${param}' must be a string or a list of content parts.`, param);
  return content.map((p, i): ContentPart => {
    const at = `${param}.${i}`;
    if (!isObject(p)) throw bad('A content part must be an object.', at);
    if ((p.type === 'input_text' || p.type === 'output_text' || p.type === 'text') && typeof p.text === 'string') return { type: 'text', text: p.text };
    if (p.type === 'input_image') {
      if (typeof p.image_url !== 'string') throw bad("An 'input_image' needs an 'image_url' (a URL or a data URL); file ids are not supported by this gateway.", at);
      const detail = p.detail === 'low' || p.detail === 'high' || p.detail === 'auto' ? p.detail : undefined;
      return { type: 'image_url', image_url: detail ? { url: p.image_url, detail } : { url: p.image_url } };
    }
    throw bad(`Content parts of type '${String(p.type)}' are not supported by this gateway.`, at);
  });
}

/** The Responses `input` (and `instructions`) as chat messages. */
export function toChatMessages(input: unknown, instructions: unknown, cache?: ItemCache): ChatMessage[] {
  const messages: ChatMessage[] = [];
  if (instructions !== undefined && instructions !== null) {
    if (typeof instructions !== 'string') throw bad("'instructions' must be a string.", 'instructions');
    messages.push({ role: 'system', content: instructions });
  }
  if (typeof input === 'string') {
    messages.push({ role: 'user', content: input });
    return messages;
  }
  if (!Array.isArray(input)) throw bad("'input' must be a string or a list of input items.", 'input');
  /** The assistant message function calls attach to, while no other item came between. */
  let assistant: ChatMessage | null = null;
  const add = (m: ChatMessage) => { messages.push(m); assistant = m.role === 'assistant' ? m : null; };
  const addItem = (raw: unknown, i: number): void => {
    const at = `input.${i}`;
    if (!isObject(raw)) throw bad('An input item must be an object.', at);
    const type = raw.type ?? 'message';
    switch (type) {
      case 'message': {
        const role = raw.role;
        if (role === 'assistant') {
          const text = textOfParts(raw.content, `${at}.content`);
          add({ role: 'assistant', content: text });
        } else if (role === 'user' || role === 'system' || role === 'developer') {
          add({ role: role === 'developer' ? 'system' : role, content: role === 'user' ? userParts(raw.content, `${at}.content`) : textOfParts(raw.content, `${at}.content`) });
        } else {
          throw bad(`Invalid role ${JSON.stringify(role)}: expected 'user', 'assistant', 'system' or 'developer'.`, `${at}.role`);
        }
        return;
      }
      case 'function_call': {
        if (typeof raw.call_id !== 'string' || typeof raw.name !== 'string') throw bad("A 'function_call' item needs 'call_id' and 'name'.", at);
        const call: ToolCall = { id: raw.call_id, type: 'function', function: { name: raw.name, arguments: typeof raw.arguments === 'string' ? raw.arguments : JSON.stringify(raw.arguments ?? {}) } };
        if (assistant) {
          const a: ChatMessage = assistant;
          a.tool_calls = [...(a.tool_calls ?? []), call];
          if (a.content === '') a.content = null;
        } else add({ role: 'assistant', content: null, tool_calls: [call] });
        return;
      }
      case 'function_call_output': {
        if (typeof raw.call_id !== 'string') throw bad("A 'function_call_output' item needs 'call_id'.", at);
        const output = typeof raw.output === 'string' ? raw.output : textOfParts(raw.output, `${at}.output`);
        add({ role: 'tool', tool_call_id: raw.call_id, content: output });
        return;
      }
      case 'item_reference': {
        const item = typeof raw.id === 'string' ? cache?.get(raw.id) : undefined;
        if (!item) {
          throw bad(`Item '${String(raw.id)}' is not known to this gateway: it stores no responses. Send the item itself (with the Vercel AI SDK: providerOptions.openai.store = false).`, `${at}.id`);
        }
        addItem(item, i);
        return;
      }
      case 'reasoning':
        return; // reasoning items carry nothing a chat endpoint can take back
      default:
        throw bad(`Input items of type '${String(type)}' are not supported by this gateway.`, `${at}.type`);
    }
  };
  input.forEach(addItem);
  if (!messages.some((m) => m.role !== 'system')) throw bad("'input' must hold at least one message.", 'input');
  return messages;
}

function toChatTools(tools: unknown): Json[] | undefined {
  if (tools === undefined || tools === null) return undefined;
  if (!Array.isArray(tools)) throw bad("'tools' must be a list.", 'tools');
  if (tools.length === 0) return undefined;
  return tools.map((t, i) => {
    if (!isObject(t)) throw bad('A tool must be an object.', `tools.${i}`);
    if (t.type !== 'function') {
      if (typeof t.type === 'string' && BUILT_IN_TOOLS.test(t.type)) {
        throw bad(`Built-in tool '${t.type}' is not supported by this gateway: only tools of type 'function' are.`, `tools.${i}.type`);
      }
      throw bad(`Tools of type '${String(t.type)}' are not supported: only 'function'.`, `tools.${i}.type`);
    }
    if (typeof t.name !== 'string' || !t.name) throw bad("A function tool needs a 'name'.", `tools.${i}.name`);
    const fn: Json = { name: t.name };
    if (typeof t.description === 'string') fn.description = t.description;
    fn.parameters = isObject(t.parameters) ? t.parameters : { type: 'object', properties: {} };
    if (typeof t.strict === 'boolean') fn.strict = t.strict;
    return { type: 'function', function: fn };
  });
}

function toChatToolChoice(choice: unknown): Json {
  if (choice === undefined || choice === null) return undefined;
  if (choice === 'auto' || choice === 'none' || choice === 'required') return choice;
  if (isObject(choice) && choice.type === 'function' && typeof choice.name === 'string') return { type: 'function', function: { name: choice.name } };
  throw bad(`Unsupported tool_choice ${JSON.stringify(choice)}: use 'auto', 'none', 'required' or {"type":"function","name":...}.`, 'tool_choice');
}

function toResponseFormat(text: unknown): Json {
  if (!isObject(text) || !isObject(text.format)) return undefined;
  const f = text.format;
  if (f.type === 'text') return undefined;
  if (f.type === 'json_object') return { type: 'json_object' };
  if (f.type === 'json_schema') {
    const schema: Json = { name: f.name ?? 'response', schema: f.schema ?? {} };
    if (typeof f.strict === 'boolean') schema.strict = f.strict;
    if (typeof f.description === 'string') schema.description = f.description;
    return { type: 'json_schema', json_schema: schema };
  }
  throw bad(`Unsupported text.format type ${JSON.stringify(f.type)}.`, 'text.format');
}

/**
 * A Responses API request body as a unified chat body, plus what the answer echoes.
 * Throws a 400 (`GW_ERR_REQUEST_BAD`) for what the gateway cannot do.
 */
export function toChatBody(body: Record<string, any>, cache?: ItemCache): { chat: Record<string, unknown>; echo: EchoedParams; stream: boolean } {
  if (body.previous_response_id !== undefined && body.previous_response_id !== null) {
    throw bad("'previous_response_id' is not supported: this gateway stores no responses. Send the whole conversation in 'input'.", 'previous_response_id');
  }
  if (body.conversation !== undefined && body.conversation !== null) {
    throw bad("'conversation' is not supported: this gateway stores no conversations. Send the whole conversation in 'input'.", 'conversation');
  }
  if (body.background === true) throw bad("'background' responses are not supported by this gateway.", 'background');
  if (body.prompt !== undefined && body.prompt !== null) throw bad("Stored prompts ('prompt') are not supported by this gateway.", 'prompt');
  if (body.input === undefined || body.input === null) throw bad("Missing required parameter: 'input'.", 'input');
  for (const k of Object.keys(body)) {
    if (!KNOWN.has(k)) throw bad(`Unrecognized request argument supplied: ${k}`, k);
  }
  const num = (k: string): number | null => {
    const v = body[k];
    if (v === undefined || v === null) return null;
    if (typeof v !== 'number' || !Number.isFinite(v)) throw bad(`'${k}' must be a number.`, k);
    return v;
  };
  const maxOut = num('max_output_tokens');
  if (maxOut !== null && (!Number.isInteger(maxOut) || maxOut < 1)) throw bad("'max_output_tokens' must be a positive integer.", 'max_output_tokens');
  const temperature = num('temperature');
  const topP = num('top_p');
  if (body.metadata !== undefined && body.metadata !== null && !isObject(body.metadata)) throw bad("'metadata' must be an object of strings.", 'metadata');

  const chat: Record<string, unknown> = { messages: toChatMessages(body.input, body.instructions, cache) };
  const tools = toChatTools(body.tools);
  if (tools) chat.tools = tools;
  const toolChoice = toChatToolChoice(body.tool_choice);
  if (toolChoice !== undefined && tools) chat.tool_choice = toolChoice;
  if (maxOut !== null) chat.max_tokens = maxOut;
  if (temperature !== null) chat.temperature = temperature;
  if (topP !== null) chat.top_p = topP;
  const format = toResponseFormat(body.text);
  if (format) chat.response_format = format;
  const stream = body.stream === true;
  if (stream) { chat.stream = true; chat.stream_options = { include_usage: true }; }
  return {
    chat,
    stream,
    echo: {
      instructions: typeof body.instructions === 'string' ? body.instructions : null,
      max_output_tokens: maxOut,
      temperature,
      top_p: topP,
      tool_choice: body.tool_choice ?? 'auto',
      tools: Array.isArray(body.tools) ? body.tools : [],
      metadata: isObject(body.metadata) ? body.metadata : {},
      text: isObject(body.text) ? body.text : { format: { type: 'text' } },
      parallel_tool_calls: body.parallel_tool_calls !== false,
      store: false,
    },
  };
}

/** Ids for one response and its items, derived from the invocation id (stable within a request). */
export class ResponseIds {
  private readonly base: string;
  private n = 0;
  constructor(invocationId: string) { this.base = invocationId.replace(/[^A-Za-z0-9]/g, '').slice(0, 40) || 'gatehouse'; }
  get response(): string { return `resp_${this.base}`; }
  item(prefix: 'msg' | 'fc'): string { return `${prefix}_${this.base}${(this.n++).toString(16).padStart(2, '0')}`; }
}

/** Unified usage as the Responses API's. */
export function responsesUsage(u: Usage | null | undefined): Json {
  if (!u) return null;
  const input = u.prompt_tokens ?? 0;
  const output = u.completion_tokens ?? 0;
  return {
    input_tokens: input,
    input_tokens_details: { cached_tokens: 0 },
    output_tokens: output,
    output_tokens_details: { reasoning_tokens: 0 },
    total_tokens: u.total_tokens ?? input + output,
  };
}

function statusOf(finish: string | null | undefined): { status: 'completed' | 'incomplete'; incomplete_details: Json } {
  if (finish === 'length') return { status: 'incomplete', incomplete_details: { reason: 'max_output_tokens' } };
  if (finish === 'content_filter') return { status: 'incomplete', incomplete_details: { reason: 'content_filter' } };
  return { status: 'completed', incomplete_details: null };
}

/** The Response object around some output (shared by the JSON answer and the stream's lifecycle events). */
export function responseObject(p: {
  id: string; createdAt: number; model: string; echo: EchoedParams; status: string; output: Json[];
  usage: Json; incomplete_details?: Json;
}): Json {
  return {
    id: p.id,
    object: 'response',
    created_at: p.createdAt,
    status: p.status,
    background: false,
    error: null,
    incomplete_details: p.incomplete_details ?? null,
    instructions: p.echo.instructions,
    max_output_tokens: p.echo.max_output_tokens,
    model: p.model,
    output: p.output,
    parallel_tool_calls: p.echo.parallel_tool_calls,
    previous_response_id: null,
    reasoning: { effort: null, summary: null },
    store: p.echo.store,
    temperature: p.echo.temperature,
    text: p.echo.text,
    tool_choice: p.echo.tool_choice,
    tools: p.echo.tools,
    top_p: p.echo.top_p,
    truncation: 'disabled',
    usage: p.usage,
    user: null,
    metadata: p.echo.metadata,
  };
}

const messageItem = (id: string, text: string, status: string): Json => ({
  id, type: 'message', status, role: 'assistant',
  content: [{ type: 'output_text', text, annotations: [], logprobs: [] }],
});

const functionCallItem = (id: string, callId: string, name: string, args: string, status: string): Json => ({
  id, type: 'function_call', status, call_id: callId, name, arguments: args,
});

const contentText = (c: ChatResponse['choices'][number]['message']['content']): string =>
  typeof c === 'string' ? c : Array.isArray(c) ? c.map((p) => (p.type === 'text' ? p.text : '')).join('') : '';

/** A unified chat answer as a Response object (first choice only: the Responses API has no `n`). */
export function toResponse(res: ChatResponse, echo: EchoedParams, ids: ResponseIds, cache?: ItemCache): Json {
  const choice = res.choices[0];
  const output: Json[] = [];
  if (choice) {
    const text = contentText(choice.message.content);
    if (text) output.push(messageItem(ids.item('msg'), text, 'completed'));
    if (choice.message.refusal) {
      output.push({ id: ids.item('msg'), type: 'message', status: 'completed', role: 'assistant', content: [{ type: 'refusal', refusal: choice.message.refusal }] });
    }
    for (const tc of choice.message.tool_calls ?? []) {
      output.push(functionCallItem(ids.item('fc'), tc.id, tc.function?.name ?? '', tc.function?.arguments ?? '', 'completed'));
    }
  }
  for (const item of output) cache?.put(item);
  return responseObject({
    id: ids.response, createdAt: res.created || nowSeconds(), model: res.model, echo, output,
    usage: responsesUsage(res.usage), ...statusOf(choice?.finish_reason),
  });
}

/** Sequence numbers of the stream events that failed, for the surface's error event. */
export const failedAt = new WeakMap<object, number>();

/**
 * A unified chat stream as the Responses API's event sequence: `response.created`,
 * `response.in_progress`, then per output item `response.output_item.added` ... `done` (text:
 * `content_part.added`, `output_text.delta`*, `output_text.done`, `content_part.done`; function
 * calls: `function_call_arguments.delta`*, `function_call_arguments.done`), and last
 * `response.completed` (or `response.incomplete`) with the whole response and its usage. Each
 * event has `type` and `sequence_number`. A failure after the start is rethrown with its
 * sequence number noted in `failedAt`, for the surface's `error` event.
 */
export async function* responseEvents(chunks: AsyncIterable<ChatChunk>, p: {
  ids: ResponseIds; echo: EchoedParams; createdAt: number; model: string; cache?: ItemCache;
}): AsyncGenerator<Json> {
  let seq = 0;
  let model = p.model;
  const output: Json[] = [];
  const shell = (status: string, extra: Json = {}) =>
    responseObject({ id: p.ids.response, createdAt: p.createdAt, model, echo: p.echo, status, output: [], usage: null, ...extra });
  const ev = (type: string, fields: Json) => ({ type, sequence_number: seq++, ...fields });

  let text: { index: number; id: string; text: string } | null = null;
  const tools = new Map<number, { index: number; id: string; callId: string; name: string; args: string }>();
  let usage: Usage | undefined;
  let finish: string | null = null;
  const closeText = function* () {
    if (!text) return;
    const t = text;
    text = null;
    const part = { type: 'output_text', text: t.text, annotations: [], logprobs: [] };
    yield ev('response.output_text.done', { item_id: t.id, output_index: t.index, content_index: 0, text: t.text, logprobs: [] });
    yield ev('response.content_part.done', { item_id: t.id, output_index: t.index, content_index: 0, part });
    output[t.index] = messageItem(t.id, t.text, 'completed');
    yield ev('response.output_item.done', { output_index: t.index, item: output[t.index] });
  };
  const closeTools = function* () {
    for (const c of [...tools.values()].sort((a, b) => a.index - b.index)) {
      yield ev('response.function_call_arguments.done', { item_id: c.id, output_index: c.index, name: c.name, arguments: c.args });
      output[c.index] = functionCallItem(c.id, c.callId, c.name, c.args, 'completed');
      yield ev('response.output_item.done', { output_index: c.index, item: output[c.index] });
    }
    tools.clear();
  };

  try {
    let started = false;
    for await (const chunk of chunks) {
      if (!started) {
        started = true;
        if (chunk.model) model = chunk.model;
        yield ev('response.created', { response: shell('in_progress') });
        yield ev('response.in_progress', { response: shell('in_progress') });
      }
      if (chunk.usage) usage = chunk.usage;
      const choice = chunk.choices.find((c) => c.index === 0);
      if (!choice) continue;
      const d = choice.delta;
      if (d?.content) {
        if (!text) {
          yield* closeTools();
          text = { index: output.length, id: p.ids.item('msg'), text: '' };
          output.push(messageItem(text.id, '', 'in_progress'));
          yield ev('response.output_item.added', { output_index: text.index, item: { ...output[text.index], content: [] } });
          yield ev('response.content_part.added', { item_id: text.id, output_index: text.index, content_index: 0, part: { type: 'output_text', text: '', annotations: [], logprobs: [] } });
        }
        text.text += d.content;
        yield ev('response.output_text.delta', { item_id: text.id, output_index: text.index, content_index: 0, delta: d.content, logprobs: [] });
      }
      for (const tc of d?.tool_calls ?? []) {
        let call = tools.get(tc.index);
        if (!call) {
          yield* closeText();
          call = { index: output.length, id: p.ids.item('fc'), callId: tc.id ?? `call_${p.ids.response.slice(5)}_${tc.index}`, name: tc.function?.name ?? '', args: '' };
          tools.set(tc.index, call);
          output.push(functionCallItem(call.id, call.callId, call.name, '', 'in_progress'));
          yield ev('response.output_item.added', { output_index: call.index, item: output[call.index] });
        }
        const delta = tc.function?.arguments;
        if (delta) {
          call.args += delta;
          yield ev('response.function_call_arguments.delta', { item_id: call.id, output_index: call.index, delta });
        }
      }
      if (choice.finish_reason) finish = choice.finish_reason;
    }
    if (!started) {
      yield ev('response.created', { response: shell('in_progress') });
      yield ev('response.in_progress', { response: shell('in_progress') });
    }
    yield* closeText();
    yield* closeTools();
    for (const item of output) p.cache?.put(item);
    const st = statusOf(finish);
    yield ev(st.status === 'completed' ? 'response.completed' : 'response.incomplete', {
      response: responseObject({ id: p.ids.response, createdAt: p.createdAt, model, echo: p.echo, output, usage: responsesUsage(usage), ...st }),
    });
  } catch (e) {
    if (typeof e === 'object' && e !== null) failedAt.set(e, seq);
    throw e;
  }
}

/** The `error` event a Responses stream ends with when it fails after it started. */
export function responsesStreamError(body: { error: { message: string; type: string; param: string | null; code: string } }, sequenceNumber: number): Json {
  return {
    type: 'error',
    sequence_number: sequenceNumber,
    code: body.error.code,
    message: body.error.message,
    param: body.error.param,
    // The nested copy makes OpenAI's SDK raise an APIError from the iterator, as on chat streams.
    error: body.error,
  };
}
