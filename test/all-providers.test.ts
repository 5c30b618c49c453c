import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { main } from '@gatehouse/core';
import { REPO_ROOT, startTestGateway } from './helpers/gateway.js';
import { readFileSync } from 'node:fs';

const CONFIG = fileURLToPath(new URL('../examples/all-providers/config.yaml', import.meta.url));
const ENV: Record<string, string> = {
  OPENAI_API_KEY: 'sk-openai-test', AZURE_OPENAI_API_KEY: 'az-test-key', ANTHROPIC_API_KEY: 'sk-ant-test', COHERE_API_KEY: 'co-test-key',
  MISTRAL_API_KEY: 'mi-test-key', TOGETHERAI_API_KEY: 'to-test-key', GEMINI_API_KEY: 'ge-test-key', AWS_ACCESS_KEY_ID: 'AKIDEXAMPLETEST',
  AWS_SECRET_ACCESS_KEY: 'aws-secret-test', AWS_REGION: 'us-east-1', AI21LABS_API_KEY: 'ai-test-key', PALM_API_KEY: 'pa-test-key', MOSAICML_API_KEY: 'mo-test-key',
};

describe('a config using every provider at once', () => {
  afterEach(() => { vi.unstubAllEnvs(); vi.restoreAllMocks(); });

  it('validates with keys from environment variables, and names the variable that is missing', async () => {
    const out: string[] = [];
    vi.spyOn(process.stdout, 'write').mockImplementation((s) => { out.push(String(s)); return true; });
    vi.spyOn(process.stderr, 'write').mockImplementation((s) => { out.push(String(s)); return true; });
    for (const [k, v] of Object.entries(ENV)) vi.stubEnv(k, v);
    expect(await main(['config', 'validate', CONFIG, '--root', REPO_ROOT])).toBe(0);
    expect(out.join('')).toContain('is valid: 14 endpoint(s)');
    expect(out.join('')).toMatch(/warning: provider 'mosaicml' is deprecated/);
    expect(out.join('')).toMatch(/warning: provider 'palm' is deprecated/);
    vi.stubEnv('GEMINI_API_KEY', '');
    expect(await main(['config', 'validate', CONFIG, '--root', REPO_ROOT])).toBe(2);
    expect(out.join('')).toContain("endpoints[6].model.config.gemini_api_key: Environment variable 'GEMINI_API_KEY' is not set");
  });

  it('starts, and lists every endpoint with its canonical provider name', async () => {
    const gw = await startTestGateway({ config: readFileSync(CONFIG, 'utf8'), env: ENV });
    try {
      const list = await (await fetch(`${gw.url}/api/2.0/endpoints/`)).json() as any;
      expect(list.endpoints.map((e: any) => e.model.provider)).toEqual([
        'openai', 'openai', 'anthropic', 'cohere', 'mistral', 'togetherai', 'gemini', 'amazon-bedrock',
        'huggingface-text-generation-inference', 'ai21labs', 'mlflow-model-serving', 'palm', 'mosaicml', 'mock',
      ]);
      expect(JSON.stringify(list)).not.toMatch(/test-key|sk-openai-test|aws-secret-test/);
    } finally { await gw.close(); }
  });
});
