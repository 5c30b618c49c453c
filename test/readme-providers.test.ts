import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT, startTestGateway } from './helpers/gateway.js';

const COLUMNS = ['chat', 'chatStream', 'completions', 'completionsStream', 'embeddings'] as const;
const ENV = Object.fromEntries(['OPENAI_API_KEY', 'AZURE_OPENAI_API_KEY', 'ANTHROPIC_API_KEY', 'COHERE_API_KEY', 'MISTRAL_API_KEY', 'TOGETHERAI_API_KEY', 'GEMINI_API_KEY', 'AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'AWS_REGION', 'AI21LABS_API_KEY', 'PALM_API_KEY', 'MOSAICML_API_KEY'].map((k) => [k, `test-${k.toLowerCase()}`]));

describe("the root README's provider table", () => {
  it('matches the capabilities each installed provider exposes', async () => {
    const readme = readFileSync(`${REPO_ROOT}/README.md`, 'utf8');
    const rows = readme.split('\n').filter((l) => /^\| `[a-z0-9-]+`/.test(l) && l.includes('](plugins/provider-'));
    const claimed = new Map(rows.map((row) => {
      const cells = row.split('|').slice(1, -1).map((c) => c.trim());
      const name = /`([a-z0-9-]+)`/.exec(cells[0]!)![1]!;
      return [name, COLUMNS.filter((_, i) => cells[2 + i] === '✓')];
    }));
    const gw = await startTestGateway({ config: readFileSync(`${REPO_ROOT}/examples/all-providers/config.yaml`, 'utf8'), env: ENV });
    try {
      const api = gw.gateway.current().api;
      const actual = new Map<string, string[]>();
      for (const e of api.endpoints()) actual.set(e.model.provider === 'amazon-bedrock' ? 'bedrock' : e.model.provider, [...api.capabilities(e.name)]);
      expect([...claimed.keys()].sort()).toEqual([...actual.keys()].sort());
      for (const [name, caps] of claimed) expect([name, [...caps].sort()]).toEqual([name, [...actual.get(name)!].sort()]);
    } finally { await gw.close(); }
  });
});
