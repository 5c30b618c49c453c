/**
 * Pure request/response transforms for MLflow model serving (spec §11.9). No I/O here.
 *
 * Requests go to `<model_server_url>/invocations` as `{"inputs": [...], "params": {...}}`; answers
 * must carry `predictions`, parsed with the same rules as MLflow's pydantic models
 * (`ServingTextResponse`, `EmbeddingsResponse`); anything else is a 502 whose detail reads like
 * MLflow's pydantic error text.
 */
import {
  GatewayError, chatResponse, completionsResponse, embeddingsResponse, excludeNone, paramError,
  type ChatRequest, type ChatResponse, type CompletionsRequest, type CompletionsResponse, type EmbeddingsRequest,
  type EmbeddingsResponse,
} from '@gatehouse/sdk';
import { renderValidationError, type LineError } from './pydantic-text.js';

type Json = any;

/** Fields that steer the gateway (streaming) and are never sent as model params. */
const NOT_PARAMS = new Set(['stream', 'stream_options']);

/** MLflow's `_process_payload`: `{"inputs": [x] | x-if-a-list, "params": rest}`, `params` omitted when empty. */
export function invocationBody(payload: Record<string, unknown>, key: string): { inputs: unknown[]; params?: Record<string, unknown> } {
  const p: Record<string, unknown> = excludeNone(payload);
  const input = p[key];
  const params: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(p)) if (k !== key && !NOT_PARAMS.has(k)) params[k] = v;
  const body: { inputs: unknown[]; params?: Record<string, unknown> } = { inputs: Array.isArray(input) ? input : [input] };
  if (Object.keys(params).length) body.params = params;
  return body;
}

export const completionsRequestBody = (req: CompletionsRequest) => invocationBody(req, 'prompt');
export const embeddingsRequestBody = (req: EmbeddingsRequest) => invocationBody(req, 'input');

/** Chat: one message only (MLflow served chat models take a single query); `inputs = [content]`. */
export function chatRequestBody(req: ChatRequest): { inputs: unknown[]; params?: Record<string, unknown> } {
  const body = invocationBody(req, 'messages');
  const count = body.inputs.length;
  if (count > 1) {
    throw paramError(
      `MLflow chat models are only capable of processing a single query at a time. The request submitted consists of ${count} queries.`,
      'messages');
  }
  body.inputs = [(body.inputs[0] as { content?: unknown } | undefined)?.content ?? null];
  return body;
}

const badResponse = (detail: string) => new GatewayError('GW_ERR_UPSTREAM_BAD_RESPONSE', detail, { status: 502 });

const MISSING_KEY = 'The response is missing the required key: predictions.';

function predictionsOf(title: string, js: Json): { ok: true; value: unknown } | { ok: false; error: GatewayError } {
  if (!js || typeof js !== 'object' || Array.isArray(js)) return { ok: false, error: badResponse(MISSING_KEY) };
  if (!('predictions' in js)) {
    return { ok: false, error: badResponse(renderValidationError(title, [{ loc: ['predictions'], type: 'missing', msg: 'Field required', input: js }])) };
  }
  return { ok: true, value: js.predictions };
}

const valueError = (title: string, input: unknown, msg: string) =>
  badResponse(renderValidationError(title, [{ loc: ['predictions'], type: 'value_error', msg: `Value error, ${msg}`, input }]));

const isFalsy = (v: unknown) =>
  v === null || v === undefined || v === false || v === 0 || v === '' ||
  (Array.isArray(v) && v.length === 0) || (typeof v === 'object' && v !== null && !Array.isArray(v) && Object.keys(v).length === 0);

/**
 * MLflow's `ServingTextResponse`: `predictions` is a non-empty list of strings, or a dict whose
 * only value (or whose `choices`) is one. Throws a 502 GatewayError otherwise.
 */
export function parseTextPredictions(js: Json): string[] {
  const title = 'ServingTextResponse';
  const got = predictionsOf(title, js);
  if (!got.ok) throw got.error;
  const original = got.value;
  let p: unknown = original;
  if (Array.isArray(p) && p.length === 0) throw valueError(title, original, 'The input list is empty');
  if (p && typeof p === 'object' && !Array.isArray(p)) {
    const d = p as Record<string, unknown>;
    const keys = Object.keys(d);
    if (!('choices' in d) && keys.length > 1) {
      throw valueError(title, original, "The dict format is invalid for this route type. Ensure the served model returns a dict key containing 'choices'");
    }
    p = keys.length === 1 ? d[keys[0]!] : 'choices' in d ? d.choices : d;
    if (isFalsy(p)) throw valueError(title, original, 'The input list is empty');
  }
  if (!Array.isArray(p)) {
    throw badResponse(renderValidationError(title, [{ loc: ['predictions'], type: 'list_type', msg: 'Input should be a valid list', input: p }]));
  }
  const errors: LineError[] = [];
  p.forEach((item, i) => {
    if (typeof item !== 'string') errors.push({ loc: ['predictions', i], type: 'string_type', msg: 'Input should be a valid string', input: item });
  });
  if (errors.length) throw badResponse(renderValidationError(title, errors));
  return p as string[];
}

const isNumber = (v: unknown): v is number => typeof v === 'number';

/**
 * MLflow's `EmbeddingsResponse`: `predictions` is a list of vectors, or one vector (wrapped).
 * JSON does not tell `1` from `1.0`, so integer components are accepted as numbers.
 */
export function parseEmbeddingPredictions(js: Json): number[][] {
  const title = 'EmbeddingsResponse';
  const got = predictionsOf(title, js);
  if (!got.ok) throw got.error;
  let p = got.value;
  if (Array.isArray(p)) {
    if (p.length === 0) throw valueError(title, p, 'The input list is empty');
    if (p.every((x) => Array.isArray(x) && x.length === 0)) throw valueError(title, p, 'One or more lists in the returned prediction response are empty');
    if (p.every(isNumber)) p = [p];
  }
  if (!Array.isArray(p)) {
    throw badResponse(renderValidationError(title, [{ loc: ['predictions'], type: 'list_type', msg: 'Input should be a valid list', input: p }]));
  }
  const errors: LineError[] = [];
  p.forEach((vec, i) => {
    if (!Array.isArray(vec)) {
      errors.push({ loc: ['predictions', i], type: 'list_type', msg: 'Input should be a valid list', input: vec });
      return;
    }
    vec.forEach((x, j) => {
      if (!isNumber(x)) errors.push({ loc: ['predictions', i, j], type: 'float_type', msg: 'Input should be a valid number', input: x });
    });
  });
  if (errors.length) throw badResponse(renderValidationError(title, errors));
  return p as number[][];
}

export function completionsResponseFrom(js: Json, model: string): CompletionsResponse {
  return completionsResponse({
    id: null,
    model,
    choices: parseTextPredictions(js).map((text, index) => ({ index, text, finish_reason: null })),
    usage: null,
  });
}

export function chatResponseFrom(js: Json, model: string): ChatResponse {
  return chatResponse({
    id: null,
    model,
    choices: parseTextPredictions(js).map((content, index) => ({ index, message: { role: 'assistant', content }, finish_reason: null })),
    usage: null,
  });
}

export function embeddingsResponseFrom(js: Json, model: string): EmbeddingsResponse {
  return embeddingsResponse({ model, data: parseEmbeddingPredictions(js), usage: null });
}
