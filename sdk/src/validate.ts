/**
 * The unified request schemas' validator: what the kernel's `receive` step runs, with MLflow's
 * FastAPI-shaped 422 details (surfaces without a structured detail show `summarise`).
 */
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import { GatewayError } from './errors.js';
import { AJV_OPTIONS, loadPrecompiled } from './precompiled.js';
import { requestSchemas } from './schemas.js';
import type { EndpointType } from './types.js';

// Precompiled at build time (see precompiled.ts); otherwise compiled on first use, so a config with
// chat endpoints only never compiles the other two (start-up).
let validators: Partial<Record<EndpointType, ValidateFunction>> | undefined;
let ajv: Ajv | undefined;
const validatorFor = (type: EndpointType): ValidateFunction =>
  ((validators ??= loadPrecompiled() ?? {})[type] ??= (ajv ??= new Ajv(AJV_OPTIONS)).compile(requestSchemas[type]));

/** One FastAPI/pydantic-shaped validation error. */
export interface PydanticError { type: string; loc: Array<string | number>; msg: string; input: unknown; ctx?: Record<string, unknown> }

const TRUE = new Set([true, 1, 'true', '1', 'yes', 'y', 'on', 't']);
const FALSE = new Set([false, 0, 'false', '0', 'no', 'n', 'off', 'f']);

const TYPE_ERRORS: Record<string, [string, string]> = {
  string: ['string_type', 'Input should be a valid string'],
  integer: ['int_type', 'Input should be a valid integer'],
  number: ['float_type', 'Input should be a valid number'],
  boolean: ['bool_type', 'Input should be a valid boolean'],
  array: ['list_type', 'Input should be a valid list'],
  object: ['dict_type', 'Input should be a valid dictionary'],
  null: ['none_required', 'Input should be None'],
};

function toPydantic(errors: ErrorObject[], body: unknown): PydanticError[] {
  const out: PydanticError[] = [];
  const valueAt = (segs: Array<string | number>) => segs.reduce<unknown>((v, k) => (v && typeof v === 'object' ? (v as Record<string, unknown>)[k as string] : undefined), body);
  // A failed union reports one error per branch; pydantic's message for Optional[X] is X's.
  const unionPaths = new Set(errors.filter((e) => e.keyword === 'anyOf' || e.keyword === 'oneOf').map((e) => e.instancePath));
  const firstBranch = new Map<string, string>();
  for (const e of errors) {
    const m = /^(.*\/(?:anyOf|oneOf))\/(\d+)\//.exec(e.schemaPath);
    if (m && unionPaths.has(e.instancePath) && !firstBranch.has(e.instancePath) && !(e.keyword === 'type' && (e.params as { type: string }).type === 'null')) {
      firstBranch.set(e.instancePath, `${m[1]}/${m[2]}/`);
    }
  }
  const seen = new Set<string>();
  for (const e of errors) {
    if (e.keyword === 'anyOf' || e.keyword === 'oneOf') {
      if (firstBranch.has(e.instancePath)) continue;
    } else if (unionPaths.has(e.instancePath)) {
      const b = firstBranch.get(e.instancePath);
      if (!b || !e.schemaPath.startsWith(b)) continue;
    }
    const segs = e.instancePath.split('/').slice(1).map((s) => (/^\d+$/.test(s) ? Number(s) : s));
    const p = e.params as Record<string, any>;
    const input = valueAt(segs);
    let err: PydanticError;
    switch (e.keyword) {
      case 'required': err = { type: 'missing', loc: ['body', ...segs, p.missingProperty], msg: 'Field required', input: input ?? null }; break;
      case 'type': {
        const [type, msg] = TYPE_ERRORS[Array.isArray(p.type) ? p.type[0] : p.type] ?? ['type_error', `Input should be ${p.type}`];
        err = { type, loc: ['body', ...segs], msg, input };
        break;
      }
      case 'minimum': err = { type: 'greater_than_equal', loc: ['body', ...segs], msg: `Input should be greater than or equal to ${p.limit}`, input, ctx: { ge: p.limit } }; break;
      case 'maximum': err = { type: 'less_than_equal', loc: ['body', ...segs], msg: `Input should be less than or equal to ${p.limit}`, input, ctx: { le: p.limit } }; break;
      case 'minItems': {
        const n = p.limit as number;
        const len = Array.isArray(input) ? input.length : 0;
        err = { type: 'too_short', loc: ['body', ...segs], msg: `List should have at least ${n} item${n === 1 ? '' : 's'} after validation, not ${len}`, input, ctx: { field_type: 'List', min_length: n, actual_length: len } };
        break;
      }
      case 'enum': case 'const': {
        const allowed = (p.allowedValues ?? [p.allowedValue]) as unknown[];
        err = { type: 'literal_error', loc: ['body', ...segs], msg: `Input should be ${allowed.map((a) => `'${a}'`).join(' or ')}`, input, ctx: { expected: allowed.map((a) => `'${a}'`).join(' or ') } };
        break;
      }
      default: err = { type: 'value_error', loc: ['body', ...segs], msg: `Input is invalid: ${e.message ?? ''}`.trim(), input };
    }
    const key = JSON.stringify([err.type, err.loc]);
    if (!seen.has(key)) { seen.add(key); out.push(err); }
  }
  return out;
}

/** The summary line surfaces without a structured detail (OpenAI) show. */
export function summarise(errors: PydanticError[]): string {
  return errors.map((e) => `${e.loc.slice(1).join('.') || 'body'}: ${e.msg}`).join('; ');
}

export function validationError(errors: PydanticError[]): GatewayError {
  const param = errors[0]?.loc.slice(1).join('.') || null;
  return new GatewayError('GW_ERR_REQUEST_VALIDATION', summarise(errors), { detail: errors, param });
}

/**
 * Validate a request body for an endpoint type (bounds included, see the sdk's schemas).
 * Throws a GatewayError whose detail is FastAPI's 422 list.
 */
export function validateRequest(type: EndpointType, body: unknown): Record<string, unknown> {
  if (body === undefined || body === null) {
    throw validationError([{ type: 'missing', loc: ['body'], msg: 'Field required', input: null }]);
  }
  if (typeof body !== 'object' || Array.isArray(body)) {
    throw validationError([{ type: 'model_attributes_type', loc: ['body'], msg: 'Input should be a valid dictionary or object to extract fields from', input: body }]);
  }
  const b = body as Record<string, unknown>;
  // pydantic's lax bool parsing for `stream`.
  if (b.stream !== undefined && b.stream !== null && typeof b.stream !== 'boolean') {
    const s = typeof b.stream === 'string' ? b.stream.toLowerCase() : b.stream;
    if (TRUE.has(s as never)) b.stream = true;
    else if (FALSE.has(s as never)) b.stream = false;
    else throw validationError([{ type: 'bool_parsing', loc: ['body', 'stream'], msg: 'Input should be a valid boolean, unable to interpret input', input: b.stream }]);
  }
  const v = validatorFor(type);
  if (!v(b)) throw validationError(toPydantic(v.errors ?? [], b));
  return b;
}
