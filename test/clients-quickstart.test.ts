/**
 * Every client of issue 13 against the gateway the README's commands start: the quickstart
 * config (`npm start` serves examples/quickstart/config.yaml), read verbatim. Tool round trips are
 * covered in clients-openai.test.ts and clients-anthropic.test.ts (they need the mock's tool-call
 * mode or a fake upstream); here each client's first line works as a new user would write it.
 */
import { readFileSync } from 'node:fs';
import OpenAI from 'openai';
import Anthropic from '@anthropic-ai/sdk';
import { createOpenAI } from '@ai-sdk/openai';
import { generateText, streamText } from 'ai';
import { ChatOpenAI, OpenAI as LangChainOpenAI } from '@langchain/openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT, startTestGateway, type TestGateway } from './helpers/gateway.js';

const echo = (text: string) => `This is a mock response from Gatehouse. You said: ${text}`;

describe('the clients against the quickstart config', () => {
  let gw: TestGateway;
  let base: string;

  beforeAll(async () => {
    gw = await startTestGateway({ logLevel: 'warn', config: readFileSync(`${REPO_ROOT}/examples/quickstart/config.yaml`, 'utf8') });
    base = `${gw.url}/v1`;
  });
  afterAll(async () => { await gw?.close(); });

  it('openai SDK: responses.create, responses.stream, completions.create with a list prompt', async () => {
    const client = new OpenAI({ baseURL: base, apiKey: 'unused', maxRetries: 0 });
    expect((await client.responses.create({ model: 'chat', input: 'Hello!' })).output_text).toBe(echo('Hello!'));
    const stream = client.responses.stream({ model: 'chat', input: 'Stream it' });
    let deltas = '';
    stream.on('response.output_text.delta', (e) => { deltas += e.delta; });
    expect((await stream.finalResponse()).output_text).toBe(echo('Stream it'));
    expect(deltas).toBe(echo('Stream it'));
    const cmpl = await client.completions.create({ model: 'completions', prompt: ['one', 'two'], max_tokens: 4 });
    expect(cmpl.choices.map((c) => [c.index, c.text, c.finish_reason])).toEqual([[0, 'This is a mock', 'length'], [1, 'This is a mock', 'length']]);
  });

  it('Vercel AI SDK: generateText and streamText with openai(\'chat\')', async () => {
    const openai = createOpenAI({ baseURL: base, apiKey: 'unused' });
    expect((await generateText({ model: openai('chat'), prompt: 'Hi', maxRetries: 0 })).text).toBe(echo('Hi'));
    const result = streamText({ model: openai('chat'), prompt: 'Hey', maxRetries: 0 });
    let text = '';
    for await (const t of result.textStream) text += t;
    expect(text).toBe(echo('Hey'));
  });

  it('LangChain: ChatOpenAI with and without useResponsesApi, and the OpenAI completions class', async () => {
    for (const useResponsesApi of [false, true]) {
      const chat = new ChatOpenAI({ model: 'chat', apiKey: 'unused', configuration: { baseURL: base }, maxRetries: 0, useResponsesApi });
      expect((await chat.invoke('Hello')).text).toBe(echo('Hello'));
    }
    const llm = new LangChainOpenAI({ model: 'completions', apiKey: 'unused', configuration: { baseURL: base }, maxRetries: 0 });
    expect(await llm.invoke('A haiku')).toBe(echo('A haiku'));
  });

  it('Anthropic SDK: messages.create and messages.stream', async () => {
    const client = new Anthropic({ baseURL: gw.url, apiKey: 'unused', maxRetries: 0 });
    const msg = await client.messages.create({ model: 'chat', max_tokens: 100, messages: [{ role: 'user', content: 'Hello!' }] });
    expect(msg.content).toEqual([{ type: 'text', text: echo('Hello!') }]);
    const final = await client.messages.stream({ model: 'chat', max_tokens: 100, messages: [{ role: 'user', content: 'Stream' }] }).finalMessage();
    expect(final.content[0]).toMatchObject({ type: 'text', text: echo('Stream') });
    expect(final.usage.output_tokens).toBe(10);
  });
});
