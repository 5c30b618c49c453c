/**
 * Pure Gemini transforms (spec §11.11): unified request -> `generateContent` body, and
 * `generateContent` / `streamGenerateContent` / `embedContent` answers -> unified responses.
 * No I/O here; the provider in index.ts does the calls.
 */
import { createHash } from 'node:crypto';
import {
  chatChunk, chatResponse, completionsChunk, completionsResponse, embeddingsResponse, emptyStreamError, GatewayError, paramError, sseJson,
  truncatedStreamError,
  type ChatChunk, type ChatMessage, type ChatRequest, type ChatResponse, type CompletionsChunk,
  type CompletionsRequest, type CompletionsResponse, type ContentPart, type EmbeddingsRequest,
  type EmbeddingsResponse, type ToolCall,
} from '@gatehouse/sdk';
import { pythonJsonDumps } from './python-json.js';

type Json = any;

/** Our parameter -> Gemini `generationConfig` key. A request carrying the Gemini key is rejected. */
export const GENERATION_CONFIG_KEY_MAPPING: Readonly<Record<string, string>> = {
  stop: 'stopSequences',
  n: 'candidateCount',
  max_tokens: 'maxOutputTokens',
  top_k: 'topK',
  top_p: 'topP',
  frequency_penalty: 'frequencyPenalty',
  presence_penalty: 'presencePenalty',
};

const GENERATION_CONFIGS = new Set(['temperature', ...Object.values(GENERATION_CONFIG_KEY_MAPPING)]);

const present = (v: unknown) => v !== undefined && v !== null;

// ---------------------------------------------------------------------------------------------
// Finish reasons

const CONTENT_FILTER_REASONS = new Set([
  'SAFETY', 'RECITATION', 'BLOCKLIST', 'PROHIBITED_CONTENT', 'SPII', 'IMAGE_SAFETY', 'IMAGE_PROHIBITED_CONTENT',
  'IMAGE_RECITATION',
]);

/**
 * Gemini `finishReason` -> unified value: `STOP` -> `stop`, `MAX_TOKENS` -> `length`, the
 * blocking reasons (`SAFETY`, `RECITATION`, `BLOCKLIST`, `PROHIBITED_CONTENT`, `SPII`, ...) ->
 * `content_filter`, anything else lowercased (`MALFORMED_FUNCTION_CALL` -> `malformed_function_call`).
 * MLflow maps only `MAX_TOKENS` and leaves `STOP` uppercase.
 */
export function normalizeFinishReason(reason: unknown): string | null {
  if (typeof reason !== 'string' || reason === '') return null;
  const upper = reason.toUpperCase();
  if (upper === 'STOP') return 'stop';
  if (upper === 'MAX_TOKENS') return 'length';
  if (CONTENT_FILTER_REASONS.has(upper)) return 'content_filter';
  return reason.toLowerCase();
}

// ---------------------------------------------------------------------------------------------
// Requests

function dataUrl(url: string): { mimeType: string; data: string } | null {
  const m = /^data:([^;,]+)?(?:;[^,]*)?;base64,(.*)$/s.exec(url);
  return m ? { mimeType: m[1] ?? 'application/octet-stream', data: m[2]! } : null;
}

/** Unified message content -> Gemini parts. */
export function contentToParts(content: ChatMessage['content']): Json[] {
  if (content === null || content === undefined) return [{ text: '' }];
  if (typeof content === 'string') return [{ text: content }];
  return content.map((p: ContentPart) => {
    if (p.type === 'text') return { text: p.text };
    if (p.type === 'image_url') {
      const inline = dataUrl(p.image_url.url);
      return inline ? { inlineData: inline } : { fileData: { fileUri: p.image_url.url } };
    }
    if (p.type === 'input_audio') {
      return { inlineData: { mimeType: p.input_audio.format === 'wav' ? 'audio/wav' : 'audio/mp3', data: p.input_audio.data } };
    }
    throw paramError(`Unsupported content part type '${(p as { type?: unknown }).type}' for Gemini.`);
  });
}

const textOf = (content: ChatMessage['content']): string => {
  if (typeof content === 'string') return content;
  if (!content) return '';
  return content.map((p) => (p.type === 'text' ? p.text : '')).join('');
};

function parseJsonArg(raw: unknown, what: string): unknown {
  if (raw === undefined || raw === null || raw === '') return {};
  if (typeof raw !== 'string') return raw;
  try { return JSON.parse(raw); } catch {
    throw paramError(`${what} must be valid JSON, got: ${raw.length > 200 ? raw.slice(0, 200) + '…' : raw}`);
  }
}

/** A tool result for `functionResponse.response`, which Gemini requires to be a JSON object. */
function toolResponse(content: ChatMessage['content']): Json {
  const text = textOf(content);
  let value: unknown;
  try { value = JSON.parse(text); } catch { value = text; }
  return value !== null && typeof value === 'object' && !Array.isArray(value) ? value : { output: value };
}

function toolsToGemini(tools: ChatRequest['tools']): Json[] | undefined {
  if (!tools || tools.length === 0) return undefined;
  const declarations = tools.map((tool) => {
    if (tool.type !== 'function' || !tool.function) {
      throw paramError(`Only function calling tool is supported, but received tool type ${tool.type}`, 'tools');
    }
    const f = tool.function;
    const decl: Json = { name: f.name };
    if (f.description !== undefined) decl.description = f.description;
    if (f.parameters !== undefined) decl.parametersJsonSchema = f.parameters;
    return decl;
  });
  return [{ functionDeclarations: declarations }];
}

/** OpenAI `tool_choice` -> Gemini `toolConfig` (not in MLflow, which drops it). */
function toolChoiceToGemini(choice: unknown): Json | undefined {
  if (choice === undefined || choice === null) return undefined;
  if (choice === 'auto') return { functionCallingConfig: { mode: 'AUTO' } };
  if (choice === 'none') return { functionCallingConfig: { mode: 'NONE' } };
  if (choice === 'required') return { functionCallingConfig: { mode: 'ANY' } };
  const name = (choice as { function?: { name?: unknown } })?.function?.name;
  if (typeof name === 'string') return { functionCallingConfig: { mode: 'ANY', allowedFunctionNames: [name] } };
  throw paramError(`Unsupported tool_choice value for Gemini: ${JSON.stringify(choice)}`, 'tool_choice');
}

/** OpenAI `response_format` -> `generationConfig` structured-output keys. */
function responseFormatToGemini(format: unknown): Json | undefined {
  if (!format || typeof format !== 'object') return undefined;
  const f = format as { type?: string; json_schema?: { schema?: unknown } };
  if (f.type === 'json_schema' && f.json_schema?.schema !== undefined) {
    return { responseMimeType: 'application/json', responseJsonSchema: f.json_schema.schema };
  }
  if (f.type === 'json_object') return { responseMimeType: 'application/json' };
  return undefined;
}

/** Build `contents` and `system_instruction` from the unified messages. */
export function messagesToGemini(messages: ChatMessage[]): { contents: Json[]; system?: Json } {
  const contents: Json[] = [];
  let system: Json | undefined;
  const callNames = new Map<string, string>();
  let pendingToolTurn: Json | null = null;

  for (const m of messages) {
    if (m.role !== 'tool') pendingToolTurn = null;
    if (m.role === 'user') {
      contents.push({ role: 'user', parts: contentToParts(m.content) });
    } else if (m.role === 'assistant') {
      const calls = m.tool_calls ?? [];
      if (calls.length) {
        const parts: Json[] = [];
        const text = textOf(m.content);
        if (text) parts.push({ text });
        for (const tc of calls) {
          const name = tc.function?.name ?? '';
          callNames.set(tc.id, name);
          parts.push({ functionCall: { id: tc.id, name, args: parseJsonArg(tc.function?.arguments, `Arguments of tool call '${tc.id}'`) } });
        }
        contents.push({ role: 'model', parts });
      } else {
        contents.push({ role: 'model', parts: contentToParts(m.content) });
      }
    } else if (m.role === 'system' || m.role === 'developer') {
      system ??= { parts: [] };
      system.parts.push({ text: textOf(m.content) });
    } else if (m.role === 'tool') {
      const id = m.tool_call_id ?? '';
      const name = callNames.get(id) ?? (typeof m.name === 'string' ? m.name : undefined);
      if (name === undefined) {
        throw paramError(`The tool message with tool_call_id '${id}' does not answer any tool call of an earlier assistant message.`, 'messages');
      }
      const part = { functionResponse: { id, name, response: toolResponse(m.content) } };
      // Consecutive tool results answer one model turn: Gemini wants them in one content.
      if (pendingToolTurn) pendingToolTurn.parts.push(part);
      else {
        pendingToolTurn = { role: 'user', parts: [part] };
        contents.push(pendingToolTurn);
      }
    }
    // Other roles are dropped, as MLflow does.
  }
  return { contents, system };
}

/**
 * Unified chat request -> `generateContent` body.
 * Raises 422 for Gemini-native parameter names and for `top_p > 1`.
 */
export function chatToGemini(req: ChatRequest): Json {
  const payload: Record<string, unknown> = { ...req };
  for (const [ours, theirs] of Object.entries(GENERATION_CONFIG_KEY_MAPPING)) {
    if (present(payload[theirs])) throw paramError(`Invalid parameter ${theirs}. Use ${ours} instead.`, theirs);
  }
  if (present(payload.top_p) && Number(payload.top_p) > 1) throw paramError('top_p should be less than or equal to 1', 'top_p');

  const generationConfig: Json = {};
  for (const [k, v] of Object.entries(payload)) {
    if (!present(v)) continue;
    const key = GENERATION_CONFIG_KEY_MAPPING[k] ?? k;
    if (GENERATION_CONFIGS.has(key)) generationConfig[key] = v;
  }
  Object.assign(generationConfig, responseFormatToGemini(payload.response_format));

  const { contents, system } = messagesToGemini(req.messages);
  const body: Json = { contents };
  if (system) body.system_instruction = system;
  if (Object.keys(generationConfig).length) body.generationConfig = generationConfig;
  const tools = toolsToGemini(req.tools);
  if (tools) body.tools = tools;
  const toolConfig = toolChoiceToGemini(payload.tool_choice);
  if (toolConfig) body.toolConfig = toolConfig;
  return body;
}

/** Completions = chat with one user message; an extra `system_prompt` becomes a system message. */
export function completionsToGemini(req: CompletionsRequest): Json {
  const { prompt, system_prompt, ...rest } = req;
  const messages: ChatMessage[] = [{ role: 'user', content: prompt }];
  if (typeof system_prompt === 'string' && system_prompt) messages.unshift({ role: 'system', content: system_prompt });
  return chatToGemini({ ...rest, messages } as ChatRequest);
}

/** Embeddings: one text -> `embedContent`; several -> `batchEmbedContents`. */
export function embeddingsToGemini(req: EmbeddingsRequest, model: string): { method: 'embedContent' | 'batchEmbedContents'; body: Json } {
  const input = typeof req.input === 'string' ? [req.input] : req.input;
  if (!Array.isArray(input) || input.length === 0) throw paramError('input must contain at least one text.', 'input');
  if (!input.every((x): x is string => typeof x === 'string')) {
    throw paramError('Gemini embeddings accept text input only (a string or a list of strings), not token ids.', 'input');
  }
  const dims = req.dimensions;
  const extra: Json = typeof dims === 'number' ? { outputDimensionality: dims } : {};
  if (input.length === 1) return { method: 'embedContent', body: { content: { parts: [{ text: input[0] }] }, ...extra } };
  return {
    method: 'batchEmbedContents',
    body: { requests: input.map((text) => ({ model: `models/${model}`, content: { parts: [{ text }] }, ...extra })) },
  };
}

// ---------------------------------------------------------------------------------------------
// Responses

/** `"call_" + md5(f"{name}/{json.dumps(args)}")`, MLflow's id for a function call without one. */
export function fallbackCallId(name: string, argsJson: string): string {
  return 'call_' + createHash('md5').update(`${name}/${argsJson}`, 'utf8').digest('hex');
}

function functionCalls(parts: Json[]): ToolCall[] {
  return parts.filter((p) => p && p.functionCall).map((p) => {
    const fc = p.functionCall;
    const name: string = fc.name ?? '';
    const args = pythonJsonDumps(fc.args ?? {});
    return { id: fc.id ?? fallbackCallId(name, args), type: 'function', function: { name, arguments: args } };
  });
}

/** Text of the answer parts (thought summaries excluded). */
function partsText(parts: Json[]): string {
  return parts.filter((p) => p && typeof p.text === 'string' && !p.thought).map((p) => p.text as string).join('');
}

function usageOf(meta: Json): { prompt_tokens: number | null; completion_tokens: number | null; total_tokens: number | null } {
  if (!meta || typeof meta !== 'object') return { prompt_tokens: null, completion_tokens: null, total_tokens: null };
  const num = (v: unknown) => (typeof v === 'number' ? v : null);
  const candidates = num(meta.candidatesTokenCount);
  const thoughts = num(meta.thoughtsTokenCount);
  const completion = candidates === null && thoughts === null ? null : (candidates ?? 0) + (thoughts ?? 0);
  return { prompt_tokens: num(meta.promptTokenCount), completion_tokens: completion, total_tokens: num(meta.totalTokenCount) };
}

const candidatesOf = (resp: Json): Json[] => (Array.isArray(resp?.candidates) ? resp.candidates : []);
const partsOf = (cand: Json): Json[] => (Array.isArray(cand?.content?.parts) ? cand.content.parts : []);

/** `generateContent` answer -> unified chat response. */
export function geminiToChat(resp: Json, model: string, now: number): ChatResponse {
  const choices: Parameters<typeof chatResponse>[0]['choices'] = [];
  candidatesOf(resp).forEach((cand, idx) => {
    const parts = partsOf(cand);
    const finish = normalizeFinishReason(cand.finishReason ?? 'stop');
    const calls = functionCalls(parts);
    const text = partsText(parts);
    if (calls.length) choices.push({ index: idx, message: { role: 'assistant', content: text || null, tool_calls: calls }, finish_reason: finish });
    else if (text) choices.push({ index: idx, message: { role: 'assistant', content: text }, finish_reason: finish });
    else if (finish !== 'stop') choices.push({ index: idx, message: { role: 'assistant', content: null }, finish_reason: finish });
  });
  return chatResponse({ id: `gemini-chat-${now}`, created: now, model, choices, usage: usageOf(resp?.usageMetadata) });
}

/** `generateContent` answer -> unified completions response. */
export function geminiToCompletions(resp: Json, model: string, now: number): CompletionsResponse {
  const choices: Array<{ index: number; text: string; finish_reason: string | null }> = [];
  candidatesOf(resp).forEach((cand, idx) => {
    const text = partsText(partsOf(cand));
    const finish = normalizeFinishReason(cand.finishReason ?? 'stop');
    if (text || finish !== 'stop') choices.push({ index: idx, text, finish_reason: finish });
  });
  return completionsResponse({ id: null, created: now, model, choices, usage: usageOf(resp?.usageMetadata) });
}

/** Usage for a stream event: only on the closing event (Gemini repeats partial counts on each). */
function streamUsage(resp: Json) {
  if (!resp?.usageMetadata) return undefined;
  const cands = candidatesOf(resp);
  const closing = cands.length === 0 || cands.some((c) => present(c.finishReason));
  return closing ? usageOf(resp.usageMetadata) : undefined;
}

/**
 * A mapper for one chat stream. It keeps the running tool-call index per candidate, so several
 * function calls across events get distinct `index` values.
 */
export function createChatStreamMapper(model: string, clock: () => number): (event: Json) => ChatChunk {
  const toolCallCount = new Map<number, number>();
  return (event) => {
    const now = clock();
    const choices = candidatesOf(event).map((cand, idx) => {
      const parts = partsOf(cand);
      const finish = normalizeFinishReason(cand.finishReason);
      const calls = functionCalls(parts);
      const text = partsText(parts);
      if (calls.length) {
        const base = toolCallCount.get(idx) ?? 0;
        toolCallCount.set(idx, base + calls.length);
        return {
          index: idx, finish_reason: finish,
          delta: { role: 'assistant', content: text || null, tool_calls: calls.map((c, i) => ({ index: base + i, ...c })) },
        };
      }
      return { index: idx, finish_reason: finish, delta: { role: 'assistant', content: text } };
    });
    return chatChunk({ id: `gemini-chat-stream-${now}`, created: now, model, choices, usage: streamUsage(event) });
  };
}

/** Map one completions stream event. */
export function geminiToCompletionsChunk(event: Json, model: string, now: number): CompletionsChunk {
  const choices = candidatesOf(event).map((cand, idx) => ({
    index: idx, finish_reason: normalizeFinishReason(cand.finishReason), text: partsText(partsOf(cand)),
  }));
  return completionsChunk({
    id: `gemini-completions-stream-${now}`, object: 'text_completion.chunk', created: now, model, choices, usage: streamUsage(event),
  });
}

/** `embedContent` / `batchEmbedContents` answer -> unified embeddings response. */
export function geminiToEmbeddings(resp: Json, model: string): EmbeddingsResponse {
  const items: Json[] = Array.isArray(resp?.embeddings) && resp.embeddings.length ? resp.embeddings : [resp?.embedding ?? {}];
  return embeddingsResponse({ model, data: items.map((e) => (Array.isArray(e?.values) ? e.values : [])), usage: null });
}

// ---------------------------------------------------------------------------------------------
// Streams

/**
 * True for the event that completes a Gemini stream: a candidate with a `finishReason`, or a
 * prompt blocked outright (`promptFeedback.blockReason`, no candidates). Gemini sends no `[DONE]`.
 */
export const isFinalGeminiEvent = (js: Json): boolean =>
  candidatesOf(js).some((c) => present(c.finishReason)) || present(js?.promptFeedback?.blockReason);

/**
 * Parse a `streamGenerateContent?alt=sse` body into JSON events: only `data:` fields count,
 * `[DONE]` (which Gemini does not send, but MLflow honours) stops, and an `{"error": ...}` event
 * throws a GatewayError. A stream that ends before a final event (see `isFinalGeminiEvent`) is a
 * 502 `GW_ERR_UPSTREAM_TRUNCATED`; one without any event a 502 `GW_ERR_UPSTREAM_EMPTY`.
 */
export const geminiStreamEvents = (body: AsyncIterable<Uint8Array | string>): AsyncGenerator<Json> =>
  sseJson(body, { toError: (js) => streamError(js.error), final: isFinalGeminiEvent, name: 'Gemini' });

/** The events of a whole JSON list (a stream answer sent without `alt=sse`): an error event throws, a list without a final event is truncated, an empty one empty. */
export function geminiEventList(events: Json[]): Json[] {
  for (const e of events) if (present(e?.error)) throw streamError(e.error);
  if (events.length === 0) throw emptyStreamError('Gemini');
  if (!events.some(isFinalGeminiEvent)) throw truncatedStreamError('Gemini');
  return events;
}

/** A Gemini error object (`{code, message, status}`) met inside a stream. */
export function streamError(error: Json): GatewayError {
  const message = typeof error === 'string' ? error : typeof error?.message === 'string' ? error.message : 'Gemini stream error';
  const code = typeof error?.code === 'number' && error.code >= 400 && error.code < 600 ? error.code : 502;
  return new GatewayError('GW_ERR_UPSTREAM_STATUS', message, { status: code });
}
