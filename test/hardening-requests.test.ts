/**
 * Issue 12 items 1 and 2 against a running gateway, on both surfaces: requests that used to
 * hang the event loop, exhaust memory or answer a 500 (`n: 2147483648`, `1e400`, 2^53 + 1, JSON
 * nested 5,000 deep) answer a 4xx at once, in the caller's surface shape, and the process lives on.
 * Also key files (items 12 and 13): trimmed, and a path-like key naming no file is refused.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeUpstream } from '@gatehouse/sdk/testing';
import { postJson, readSse, startTestGateway, type TestGateway } from './helpers/gateway.js';

const config = {
  endpoints: [
    { name: 'chat', endpoint_type: 'llm/v1/chat', model: { provider: 'mock', name: 'm-chat', config: { chunk_delay_ms: 0 } } },
    { name: 'completions', endpoint_type: 'llm/v1/completions', model: { provider: 'mock', name: 'm-cmpl', config: { chunk_delay_ms: 0 } } },
    { name: 'embeddings', endpoint_type: 'llm/v1/embeddings', model: { provider: 'mock', name: 'm-emb' } },
  ],
};

let gw: TestGateway;
beforeAll(async () => { gw = await startTestGateway({ config, logLevel: 'error' }); });
afterAll(async () => { await gw?.close(); });

const msgs = '[{"role":"user","content":"hi"}]';
const nested = (depth: number, inner = '"x"') => '['.repeat(depth) + inner + ']'.repeat(depth);

/** One request body (raw JSON text, so numbers JSON.stringify cannot write get through) per surface. */
interface Surface {
  name: string;
  chat(fields: string): [string, string];
  completions(fields: string): [string, string];
  /** Checks the error body is in this surface's shape and returns its message. */
  message(json: any): string;
}
const SURFACES: Surface[] = [
  {
    name: 'MLflow (/endpoints/x/invocations)',
    chat: (f) => ['/endpoints/chat/invocations', `{"messages":${msgs}${f}}`],
    completions: (f) => ['/endpoints/completions/invocations', `{"prompt":"hi"${f}}`],
    message: (json) => {
      expect(Object.keys(json)).toEqual(['detail']);
      return typeof json.detail === 'string' ? json.detail : JSON.stringify(json.detail);
    },
  },
  {
    name: 'OpenAI (/v1/...)',
    chat: (f) => ['/v1/chat/completions', `{"model":"chat","messages":${msgs}${f}}`],
    completions: (f) => ['/v1/completions', `{"model":"completions","prompt":"hi"${f}}`],
    message: (json) => {
      expect(json.error).toEqual(expect.objectContaining({ message: expect.any(String), type: expect.any(String) }));
      return json.error.message;
    },
  },
];

async function send([path, body]: [string, string]) {
  const t0 = performance.now();
  const r = await postJson(`${gw.url}${path}`, body);
  return { ...r, ms: performance.now() - t0 };
}

async function alive() {
  const r = await fetch(`${gw.url}/health`);
  expect(r.status).toBe(200);
  const ok = await send(['/endpoints/chat/invocations', `{"messages":${msgs},"n":2}`]);
  expect([ok.status, ok.json.choices.length]).toEqual([200, 2]);
}

for (const s of SURFACES) {
  describe(`${s.name}: requests that hurt`, () => {
    it.each([
      ['n: 2147483648', ',"n":2147483648', 'n'],
      ['n: 129', ',"n":129', 'n'],
      ['n: 1e400', ',"n":1e400', 'n'],
      ['n: 2^53 + 1', ',"n":9007199254740993', 'n'],
      ['max_tokens: 2^53 + 1', ',"max_tokens":9007199254740993', 'max_tokens'],
      ['max_tokens: 1e400', ',"max_tokens":1e400', 'max_tokens'],
      ['max_tokens: -1e400', ',"max_tokens":-1e400', 'max_tokens'],
      ['max_tokens: 2^31', ',"max_tokens":2147483648', 'max_tokens'],
      ['temperature: 1e400', ',"temperature":1e400', 'temperature'],
      ['top_p: 2', ',"top_p":2', 'top_p'],
      ['seed: 2^63', ',"seed":9223372036854775808', 'seed'],
    ])('%s → 4xx at once, naming the field (chat, completions, and their streams)', async (_t, fields, field) => {
      for (const make of [s.chat, s.completions]) {
        for (const stream of ['', ',"stream":true']) {
          const r = await send(make(fields + stream));
          expect(r.status, `${r.status} ${r.text}`).toBeGreaterThanOrEqual(400);
          expect(r.status).toBeLessThan(500);
          expect(r.ms).toBeLessThan(2000);
          expect(s.message(r.json)).toContain(field);
        }
      }
    });

    it('JSON nested 5,000 deep (in a message\'s content or in an extra field) → 400 saying so', async () => {
      const inContent = s.chat('').map((x, i) => (i === 1 ? x.replace('"content":"hi"', `"content":${nested(5000)}`) : x)) as [string, string];
      const inExtra = s.chat(`,"extra":${nested(5000, '{}')}`);
      const deepObjects = s.completions(`,"metadata":${'{"a":'.repeat(5000)}1${'}'.repeat(5000)}`);
      for (const req of [inContent, inExtra, deepObjects]) {
        const r = await send(req);
        expect(r.status, r.text).toBe(400);
        expect(s.message(r.json)).toMatch(/nested too deeply: more than 64 levels/);
      }
    });

    it('JSON within the depth cap is fine (an extra field 30 levels deep reaches no 4xx)', async () => {
      const r = await send(s.chat(`,"user_metadata":${nested(30)}`));
      expect(r.status, r.text).toBe(200);
    });

    it('invalid JSON → 4xx in the surface shape', async () => {
      const [path] = s.chat('');
      const r = await send([path, '{"messages": [}']);
      expect(r.status).toBeGreaterThanOrEqual(400);
      expect(r.status).toBeLessThan(500);
      s.message(r.json);
    });

    it('the largest accepted n (128) is answered in full, quickly', async () => {
      const r = await send(s.chat(',"n":128'));
      expect(r.status).toBe(200);
      expect(r.json.choices).toHaveLength(128);
    });

    it('the process is alive and serving afterwards', alive);
  });
}

describe('embeddings and streams', () => {
  it('token-id inputs past 2^31 or 1e400 are refused, not embedded', async () => {
    for (const body of ['{"input":[1e400]}', '{"input":[[1,9007199254740993]]}', '{"input":"x","dimensions":1e400}']) {
      const r = await send(['/endpoints/embeddings/invocations', body]);
      expect(r.status, body).toBe(422);
    }
  });

  it('a valid stream still streams, and omitting temperature/n is fine', async () => {
    const res = await fetch(`${gw.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'chat', messages: [{ role: 'user', content: 'a b c' }], stream: true }) });
    expect(res.status).toBe(200);
    const events = await readSse(res);
    expect(events.at(-1)).toBe('[DONE]');
    expect(events.some((e) => e?.choices?.[0]?.finish_reason === 'stop')).toBe(true);
  });

  it('is still alive', alive);
});

describe('key files (issue 12 items 12 and 13)', () => {
  it('a key file with a trailing newline works: the key is sent trimmed', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gatehouse-keyfile-'));
    const keyFile = join(dir, 'openai.key');
    writeFileSync(keyFile, 'sk-from-file-0123\n');
    const up = await startFakeUpstream({ 'POST /v1/chat/completions': { json: { id: 'c', object: 'chat.completion', created: 1, model: 'gpt', choices: [{ index: 0, message: { role: 'assistant', content: 'hi' }, finish_reason: 'stop' }] } } });
    const g = await startTestGateway({ logLevel: 'error', config: { endpoints: [{ name: 'gpt', endpoint_type: 'llm/v1/chat', model: { provider: 'openai', name: 'gpt', config: { openai_api_key: keyFile, openai_api_base: `${up.url}/v1` } } }] } });
    try {
      const r = await postJson(`${g.url}/endpoints/gpt/invocations`, { messages: [{ role: 'user', content: 'x' }] });
      expect(r.status, r.text).toBe(200);
      expect(up.last().headers.authorization).toBe('Bearer sk-from-file-0123');
    } finally {
      await g.close();
      await up.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a key that looks like a path but names no file is refused at start-up, not sent upstream', async () => {
    await expect(startTestGateway({ logLevel: 'error', config: { endpoints: [{ name: 'gpt', endpoint_type: 'llm/v1/chat', model: { provider: 'openai', name: 'gpt', config: { openai_api_key: '/etc/gatehouse/missing.key' } } }] } }))
      .rejects.toThrow("looks like a path to a key file, but there is no such file");
  });
});
