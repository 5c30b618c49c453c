/**
 * Issue 12 items 1, 2 and 13 (unit level): the request schemas bound every numeric parameter,
 * refuse non-finite and imprecise integers, set no defaults; key files are trimmed and a value
 * that looks like a path but names no file is an error.
 */
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Ajv } from 'ajv';
import { INT32_MAX, parseJsonBody, requestSchemas } from '@gatehouse/sdk';
import { validateRequest } from '@gatehouse/sdk';
import { resolveKey } from '../core/src/config/keys.js';

const chat = (extra: Record<string, unknown>) => ({ messages: [{ role: 'user', content: 'hi' }], ...extra });
const fails = (type: 'llm/v1/chat' | 'llm/v1/completions' | 'llm/v1/embeddings', body: unknown): any => {
  try { validateRequest(type, body); } catch (e) { return e; }
  throw new Error(`expected ${JSON.stringify(body)} to be refused`);
};

describe('request schemas: valid JSON Schema', () => {
  // The sdk's validator skips the meta-schema check at run time (start-up); it is made here instead.
  it.each(Object.keys(requestSchemas))('%s is valid against the meta-schema, under strict mode', (type) => {
    const ajv = new Ajv({ strict: true, strictNumbers: true, allowUnionTypes: true });
    expect(ajv.validateSchema(requestSchemas[type as keyof typeof requestSchemas]), JSON.stringify(ajv.errors)).toBe(true);
    expect(() => ajv.compile(requestSchemas[type as keyof typeof requestSchemas])).not.toThrow();
  });
  it('a broken schema fails the same check', () => {
    const ajv = new Ajv({ strict: true });
    expect(ajv.validateSchema({ type: 'object', properties: { n: { type: 'integr' } } })).toBe(false);
  });
});

describe('request schemas: bounds', () => {
  it.each([
    ['n', 0], ['n', 129], ['n', 2147483648], ['n', 1.5], ['n', 2 ** 53 + 1],
    ['temperature', -0.1], ['temperature', 2.01],
    ['top_p', -0.5], ['top_p', 1.5],
    ['max_tokens', 0], ['max_tokens', -1], ['max_tokens', INT32_MAX + 1], ['max_tokens', 2 ** 53 + 1], ['max_tokens', 1e300],
    ['max_completion_tokens', 0], ['max_completion_tokens', INT32_MAX + 1],
    ['frequency_penalty', 2.5], ['presence_penalty', -3],
    ['top_k', -1], ['top_k', INT32_MAX + 1], ['top_logprobs', 21], ['seed', 2 ** 60],
    ['logit_bias', { 50256: -101 }],
  ])('chat %s = %s is a 422 naming the field', (field, value) => {
    const e = fails('llm/v1/chat', chat({ [field]: value }));
    expect([e.code, e.status]).toEqual(['GW_ERR_REQUEST_VALIDATION', 422]);
    expect(e.detail[0].loc.slice(0, 2)).toEqual(['body', field]);
    expect(e.param).toMatch(new RegExp(`^${field}`));
  });

  it.each([['n', 2147483648], ['max_tokens', 0], ['best_of', 21], ['logprobs', 50], ['temperature', 3]])('completions %s = %s is a 422', (field, value) => {
    const e = fails('llm/v1/completions', { prompt: 'p', [field]: value });
    expect(e.detail[0].loc.slice(0, 2)).toEqual(['body', field]);
  });

  it('embeddings: token ids and dimensions are bounded', () => {
    expect(fails('llm/v1/embeddings', { input: [1, -1] }).status).toBe(422);
    expect(fails('llm/v1/embeddings', { input: [[1, 2 ** 53 + 1]] }).status).toBe(422);
    expect(fails('llm/v1/embeddings', { input: 'x', dimensions: 0 }).status).toBe(422);
    expect(validateRequest('llm/v1/embeddings', { input: [[1, INT32_MAX]], dimensions: 256 })).toBeTruthy();
  });

  it('accepts the edges of every range, and null for the optional numbers', () => {
    const ok = chat({
      n: 128, temperature: 2, top_p: 1, max_tokens: INT32_MAX, max_completion_tokens: 1, frequency_penalty: -2, presence_penalty: 2,
      top_k: 0, top_logprobs: 20, seed: -(2 ** 53 - 1), logit_bias: { 1: 100, 2: -100 },
    });
    expect(validateRequest('llm/v1/chat', ok)).toEqual(ok);
    expect(validateRequest('llm/v1/chat', chat({ n: null, temperature: null, top_p: null, max_tokens: null }))).toBeTruthy();
    expect(validateRequest('llm/v1/completions', { prompt: 'p', n: 1, temperature: 0, best_of: 20, logprobs: 0 })).toBeTruthy();
  });

  it('sets no defaults: an omitted temperature or n stays omitted (MLflow 3.11)', () => {
    expect(validateRequest('llm/v1/chat', chat({}))).toEqual(chat({}));
    expect(validateRequest('llm/v1/completions', { prompt: 'p' })).toEqual({ prompt: 'p' });
  });

  it('1e400 (Infinity after JSON.parse) is refused for integer and number fields alike', () => {
    for (const field of ['n', 'max_tokens', 'temperature', 'top_p', 'seed']) {
      const body = parseJsonBody(`{"messages":[{"role":"user","content":"x"}],"${field}":1e400}`);
      const e = fails('llm/v1/chat', body);
      expect(e.status).toBe(422);
      expect(e.detail[0].loc).toEqual(['body', field]);
    }
    const neg = parseJsonBody('{"prompt":"x","max_tokens":-1e400}');
    expect(fails('llm/v1/completions', neg).detail[0].loc).toEqual(['body', 'max_tokens']);
  });

  it('keeps MLflow\'s pydantic messages for the bounds it had', () => {
    const e = fails('llm/v1/completions', { prompt: 'p', temperature: 2.5, n: 0 });
    expect(e.detail.map((d: any) => [d.type, d.loc.join('.')])).toEqual([['less_than_equal', 'body.temperature'], ['greater_than_equal', 'body.n']]);
    expect(e.message).toBe('temperature: Input should be less than or equal to 2; n: Input should be greater than or equal to 1');
  });

  it('extra fields stay allowed and are kept as sent', () => {
    const body = chat({ user: 'u', response_format: { type: 'json_object' }, custom: { deep: [1, 2, 3] } });
    expect(validateRequest('llm/v1/chat', body)).toEqual(body);
  });
});

describe('resolveKey', () => {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-keys-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('trims the newline `echo KEY > file` leaves, and other surrounding whitespace', () => {
    const f = join(dir, 'key.txt');
    writeFileSync(f, 'sk-test-123\n');
    expect(resolveKey(f, {})).toEqual({ value: 'sk-test-123' });
    writeFileSync(f, '  sk-test-456 \r\n\n');
    expect(resolveKey(f, {})).toEqual({ value: 'sk-test-456' });
  });

  it('reads relative paths (./, ../) and ~/ (the home directory)', () => {
    const f = join(dir, 'rel.txt');
    writeFileSync(f, 'sk-rel\n');
    const rel = relative(process.cwd(), f);
    expect(resolveKey(rel.startsWith('.') ? rel : `./${rel}`, {})).toEqual({ value: 'sk-rel' });
    if (f.startsWith(homedir() + '/')) expect(resolveKey(`~/${relative(homedir(), f)}`, {})).toEqual({ value: 'sk-rel' });
  });

  it('an empty key file is an error', () => {
    const f = join(dir, 'empty.txt');
    writeFileSync(f, '\n');
    expect(resolveKey(f, {}).error).toMatch(/is empty/);
  });

  it.each(['/etc/gatehouse/no-such-key', './keys/openai.txt', '../secrets/key', '~/no-such-gatehouse-key-file'])(
    'a value that looks like a path but names no file (%s) is an error, not a key', (value) => {
      const r = resolveKey(value, {});
      expect(r.value).toBeUndefined();
      expect(r.error).toBe(`The api key '${value}' looks like a path to a key file, but there is no such file.`);
    });

  it('a path to a directory is an error', () => {
    mkdirSync(join(dir, 'sub'), { recursive: true });
    expect(resolveKey(join(dir, 'sub'), {}).error).toMatch(/names a directory/);
  });

  it('literal keys and $ENV values are used (trimmed); unset or blank variables are errors', () => {
    expect(resolveKey('sk-literal', {})).toEqual({ value: 'sk-literal' });
    expect(resolveKey('sk-literal\n', {})).toEqual({ value: 'sk-literal' });
    expect(resolveKey('$K', { K: 'sk-env\n' })).toEqual({ value: 'sk-env' });
    expect(resolveKey('$K', {}).error).toBe("Environment variable 'K' is not set");
    expect(resolveKey('$K', { K: ' \n' }).error).toBe("Environment variable 'K' is not set");
    expect(resolveKey(42, {}).error).toMatch(/not a string/);
  });
});
