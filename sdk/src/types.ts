/** The three endpoint types of the MLflow config format. */
export type EndpointType = 'llm/v1/chat' | 'llm/v1/completions' | 'llm/v1/embeddings';
export const ENDPOINT_TYPES: readonly EndpointType[] = ['llm/v1/chat', 'llm/v1/completions', 'llm/v1/embeddings'];

/** What a provider can do; a missing capability answers 501. */
export type Capability = 'chat' | 'chatStream' | 'completions' | 'completionsStream' | 'embeddings';

export interface TextPart { type: 'text'; text: string }
export interface ImageUrlPart { type: 'image_url'; image_url: { url: string; detail?: 'auto' | 'low' | 'high' } }
export interface InputAudioPart { type: 'input_audio'; input_audio: { data: string; format: 'wav' | 'mp3' } }
export type ContentPart = TextPart | ImageUrlPart | InputAudioPart;

export interface ToolCall { id: string; type: string; function: { name?: string; arguments?: string } }

export interface ChatMessage {
  role: string;
  content?: string | ContentPart[] | null;
  tool_calls?: ToolCall[] | null;
  refusal?: string | null;
  tool_call_id?: string | null;
  [extra: string]: unknown;
}

export interface FunctionToolDefinition {
  name: string;
  description?: string;
  parameters?: { type: 'object'; properties: Record<string, unknown>; required?: string[]; additionalProperties?: boolean };
  strict?: boolean;
}
export interface ChatTool { type: 'function' | 'uc_function'; function?: FunctionToolDefinition; uc_function?: { name: string } }

/**
 * Fields shared by chat and completions requests (after validation). Parameters the caller
 * omitted are absent: providers send upstream only what is set (MLflow 3.11 no longer defaults
 * `temperature` to 0 or `n` to 1).
 */
export interface BaseRequest {
  temperature?: number | null;
  n?: number | null;
  top_p?: number | null;
  stop?: string[] | null;
  max_tokens?: number | null;
  stream?: boolean | null;
  stream_options?: { include_usage?: boolean; [k: string]: unknown } | null;
  model?: string | null;
  [extra: string]: unknown;
}
export interface ChatRequest extends BaseRequest { messages: ChatMessage[]; tools?: ChatTool[] | null }
export interface CompletionsRequest extends BaseRequest { prompt: string }
export interface EmbeddingsRequest { input: string | string[] | number[] | number[][]; [extra: string]: unknown }

export interface Usage { prompt_tokens: number | null; completion_tokens: number | null; total_tokens: number | null }

export interface ChatResponse {
  id: string | null;
  object: 'chat.completion';
  created: number;
  model: string;
  choices: Array<{
    index: number;
    message: { role: string; content: string | ContentPart[] | null; tool_calls: ToolCall[] | null; refusal: string | null };
    finish_reason: string | null;
  }>;
  usage: Usage;
}

export interface CompletionsResponse {
  id: string | null;
  object: 'text_completion';
  created: number;
  model: string;
  choices: Array<{ index: number; text: string; finish_reason: string | null }>;
  usage: Usage;
}

export interface EmbeddingsResponse {
  object: 'list';
  data: Array<{ object: 'embedding'; embedding: number[] | string; index: number }>;
  model: string;
  usage: { prompt_tokens: number | null; total_tokens: number | null };
}

export interface ChunkToolCall { index: number; id: string | null; type: string | null; function: { name: string | null; arguments: string | null } }

/**
 * A chat stream chunk. `usage` is not part of MLflow's chunk; it is carried for the surfaces
 * that show it (OpenAI `stream_options.include_usage`) and for metering, and is dropped by the
 * MLflow surface unless the caller asked for it.
 */
export interface ChatChunk {
  id: string | null;
  object: 'chat.completion.chunk';
  created: number;
  model: string;
  choices: Array<{
    index: number;
    finish_reason: string | null;
    delta: { role: string | null; content: string | null; tool_calls: ChunkToolCall[] | null };
  }>;
  usage?: Usage;
}

export interface CompletionsChunk {
  id: string | null;
  object: 'text_completion_chunk' | 'text_completion.chunk';
  created: number;
  model: string;
  choices: Array<{ index: number; finish_reason: string | null; text: string | null }>;
  usage?: Usage;
}

export type UnifiedRequest = ChatRequest | CompletionsRequest | EmbeddingsRequest;
export type UnifiedResponse = ChatResponse | CompletionsResponse | EmbeddingsResponse;
export type UnifiedChunk = ChatChunk | CompletionsChunk;
