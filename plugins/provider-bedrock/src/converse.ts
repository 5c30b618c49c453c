/**
 * Chat through Bedrock's Converse API: unified request → Converse body, Converse answer →
 * unified response, and ConverseStream events → unified chunks. Pure; no I/O.
 */
import {
  chatChunk, chatResponse, nowSeconds, paramError, truncatedStreamError,
  type ChatChunk, type ChatMessage, type ChatRequest, type ChatResponse, type ChatTool, type ContentPart, type ToolCall,
} from '@gatehouse/sdk';

type Json = any;

const IMAGE_FORMATS: Record<string, string> = { 'image/png': 'png', 'image/jpeg': 'jpeg', 'image/jpg': 'jpeg', 'image/gif': 'gif', 'image/webp': 'webp' };

function imageBlock(url: string): Json {
  const m = /^data:([^;,]+);base64,(.*)$/s.exec(url);
  const format = m ? IMAGE_FORMATS[m[1]!.toLowerCase()] : undefined;
  if (!m || !format) {
    throw paramError('Amazon Bedrock accepts images as base64 data URLs of type png, jpeg, gif or webp.', 'messages');
  }
  return { image: { format, source: { bytes: m[2] } } };
}

function blocks(content: ChatMessage['content']): Json[] {
  if (content === null || content === undefined) return [];
  if (typeof content === 'string') return content ? [{ text: content }] : [];
  return content.map((p: ContentPart) => {
    if (p.type === 'text') return { text: p.text };
    if (p.type === 'image_url') return imageBlock(p.image_url.url);
    throw paramError(`Content parts of type '${(p as { type: string }).type}' are not supported by Amazon Bedrock chat.`, 'messages');
  });
}

function parseArguments(call: ToolCall): unknown {
  const raw = call.function?.arguments;
  if (raw === undefined || raw === null || raw === '') return {};
  try { return JSON.parse(raw); } catch {
    throw paramError(`The arguments of tool call '${call.id}' are not valid JSON.`, 'messages');
  }
}

/** Unified messages as Converse `messages` and `system`; adjacent turns of one role are merged (Converse wants them alternating). */
export function toConverseMessages(messages: ChatMessage[]): { system: Json[]; messages: Json[] } {
  const system: Json[] = [];
  const out: Json[] = [];
  const push = (role: 'user' | 'assistant', content: Json[]) => {
    const prev = out[out.length - 1];
    if (prev?.role === role) prev.content.push(...content);
    else out.push({ role, content });
  };
  for (const m of messages) {
    switch (m.role) {
      case 'system': case 'developer':
        system.push(...blocks(m.content).filter((b) => 'text' in b));
        break;
      case 'user':
        push('user', blocks(m.content));
        break;
      case 'assistant': {
        const content = blocks(m.content);
        for (const call of m.tool_calls ?? []) {
          content.push({ toolUse: { toolUseId: call.id, name: call.function?.name, input: parseArguments(call) } });
        }
        push('assistant', content);
        break;
      }
      case 'tool': {
        const result = typeof m.content === 'string' ? [{ text: m.content }] : blocks(m.content).filter((b) => 'text' in b);
        push('user', [{ toolResult: { toolUseId: m.tool_call_id, content: result.length ? result : [{ text: '' }] } }]);
        break;
      }
      default:
        break; // other roles are dropped, as the other providers do
    }
  }
  return { system, messages: out };
}

export function toConverseTools(tools: ChatTool[]): Json[] {
  return tools.map((t) => {
    if (t.type !== 'function' || !t.function) {
      throw paramError(`Only tools of type 'function' are supported by Amazon Bedrock, got '${t.type}'.`, 'tools');
    }
    const spec: Json = { name: t.function.name };
    if (t.function.description !== undefined && t.function.description !== null) spec.description = t.function.description;
    spec.inputSchema = { json: t.function.parameters ?? { type: 'object', properties: {} } };
    return { toolSpec: spec };
  });
}

/** OpenAI `tool_choice` as Converse's; `none` has no Converse equivalent and becomes `auto` (undefined). */
export function toConverseToolChoice(choice: unknown): Json | undefined {
  if (choice === 'auto' || choice === 'none') return choice === 'auto' ? { auto: {} } : undefined;
  if (choice === 'required') return { any: {} };
  if (choice && typeof choice === 'object') {
    const c = choice as { type?: string; function?: { name?: string } };
    if (c.type === 'function' && c.function?.name) return { tool: { name: c.function.name } };
  }
  throw paramError(`Unsupported tool_choice value: ${JSON.stringify(choice)}.`, 'tool_choice');
}

/**
 * The Converse (and ConverseStream) body. Temperature is halved (ours 0-2, Bedrock's 0-1, as
 * MLflow does for Titan and Claude); `additionalModelRequestFields` passes through.
 */
export function toConverse(req: ChatRequest): Record<string, unknown> {
  if ((req.n ?? 1) !== 1) throw paramError(`'n' must be '1' for Amazon Bedrock chat. Received value: '${req.n}'.`, 'n');
  const { system, messages } = toConverseMessages(req.messages);
  const body: Record<string, unknown> = { messages };
  if (system.length) body.system = system;
  const inference: Record<string, unknown> = {};
  if (req.max_tokens !== undefined && req.max_tokens !== null) inference.maxTokens = req.max_tokens;
  if (req.temperature !== undefined && req.temperature !== null) inference.temperature = req.temperature * 0.5;
  if (req.top_p !== undefined && req.top_p !== null) inference.topP = req.top_p;
  if (req.stop?.length) inference.stopSequences = req.stop;
  if (Object.keys(inference).length) body.inferenceConfig = inference;
  if (req.tools?.length) {
    const toolConfig: Record<string, unknown> = { tools: toConverseTools(req.tools) };
    if (req.tool_choice !== undefined && req.tool_choice !== null) {
      const choice = toConverseToolChoice(req.tool_choice);
      if (choice) toolConfig.toolChoice = choice;
    }
    body.toolConfig = toolConfig;
  }
  if (req.additionalModelRequestFields && typeof req.additionalModelRequestFields === 'object') {
    body.additionalModelRequestFields = req.additionalModelRequestFields;
  }
  return body;
}

/** Converse `stopReason` as an OpenAI `finish_reason`. */
export function finishReason(stopReason: string | null | undefined): string | null {
  switch (stopReason) {
    case null: case undefined: return null;
    case 'max_tokens': case 'model_context_window_exceeded': return 'length';
    case 'tool_use': return 'tool_calls';
    case 'guardrail_intervened': case 'content_filtered': return 'content_filter';
    default: return 'stop'; // end_turn, stop_sequence
  }
}

const usageOf = (u: Json) => u ? {
  prompt_tokens: typeof u.inputTokens === 'number' ? u.inputTokens + (u.cacheReadInputTokens ?? 0) + (u.cacheWriteInputTokens ?? 0) : null,
  completion_tokens: u.outputTokens ?? null,
} : undefined;

/** A Converse answer as a unified chat response. `id` is Bedrock's request id (Converse has no message id). */
export function fromConverse(js: Json, model: string, id: string | null = null): ChatResponse {
  const content: Json[] = js.output?.message?.content ?? [];
  const texts = content.filter((b) => typeof b.text === 'string').map((b) => b.text as string);
  const toolCalls: ToolCall[] = content.filter((b) => b.toolUse).map((b) => ({
    id: b.toolUse.toolUseId, type: 'function', function: { name: b.toolUse.name, arguments: JSON.stringify(b.toolUse.input ?? {}) },
  }));
  return chatResponse({
    id,
    created: nowSeconds(),
    model,
    choices: [{
      index: 0,
      message: { role: 'assistant', content: texts.length ? texts.join('') : null, tool_calls: toolCalls },
      finish_reason: finishReason(js.stopReason),
    }],
    usage: usageOf(js.usage),
  });
}

/**
 * Turns ConverseStream events into unified chat chunks. Choice index is always 0; tool calls are
 * numbered in the order their blocks start. `messageStop` carries the stop reason and `metadata`
 * (which follows it) the usage: both go out together on the finish chunk.
 */
export class ConverseChatStream {
  private readonly created = nowSeconds();
  private roleSent = false;
  private readonly toolIndex = new Map<number, number>();
  private stopReason: string | undefined;
  private finished = false;

  constructor(private readonly model: string, private readonly id: string | null = null) {}

  /** True once `messageStop` was seen. */
  get done(): boolean { return this.stopReason !== undefined; }

  private chunk(delta: { content?: string | null; tool_calls?: Json[] }, extra: { finish_reason?: string | null; usage?: Json } = {}): ChatChunk {
    const role = this.roleSent ? null : 'assistant';
    this.roleSent = true;
    return chatChunk({
      id: this.id, created: this.created, model: this.model,
      choices: [{ index: 0, finish_reason: extra.finish_reason ?? null, delta: { role, ...delta } }],
      usage: extra.usage,
    });
  }

  private finish(usage?: Json): ChatChunk[] {
    if (this.finished || this.stopReason === undefined) return [];
    this.finished = true;
    return [this.chunk({}, { finish_reason: finishReason(this.stopReason) ?? 'stop', usage })];
  }

  /** Map one event (its `:event-type` and JSON payload). */
  push(eventType: string | undefined, ev: Json): ChatChunk[] {
    switch (eventType) {
      case 'contentBlockStart': {
        const tool = ev.start?.toolUse;
        if (!tool) return [];
        const idx = this.toolIndex.size;
        this.toolIndex.set(ev.contentBlockIndex ?? idx, idx);
        return [this.chunk({ tool_calls: [{ index: idx, id: tool.toolUseId, type: 'function', function: { name: tool.name, arguments: '' } }] })];
      }
      case 'contentBlockDelta': {
        const d = ev.delta ?? {};
        if (typeof d.text === 'string' && d.text) return [this.chunk({ content: d.text })];
        if (d.toolUse && typeof d.toolUse.input === 'string' && d.toolUse.input) {
          const idx = this.toolIndex.get(ev.contentBlockIndex) ?? 0;
          return [this.chunk({ tool_calls: [{ index: idx, function: { arguments: d.toolUse.input } }] })];
        }
        return []; // reasoning and citation deltas are not part of the unified schema
      }
      case 'messageStop':
        this.stopReason = ev.stopReason ?? 'end_turn';
        return [];
      case 'metadata':
        return this.finish(usageOf(ev.usage));
      default:
        return []; // messageStart, contentBlockStop, future event types
    }
  }

  /** Call when the body ends: flushes a finish chunk still waiting for `metadata`, or fails a cut stream. */
  end(): ChatChunk[] {
    if (this.stopReason === undefined) throw truncatedStreamError('Amazon Bedrock', 'before the message was complete (no messageStop)');
    return this.finish();
  }
}
