/** OpenAI-shaped answers from a fake upstream that names who answered, for the routing tests. */
import type { FakeResponse } from '@gatehouse/sdk/testing';

export const CHAT = 'POST /v1/chat/completions';

/** A chat completion saying `from <who>`, from model `model-<who>`. */
export const answer = (who: string) => ({
  json: {
    id: `chatcmpl-${who}`, object: 'chat.completion', created: 1, model: `model-${who}`,
    choices: [{ index: 0, message: { role: 'assistant', content: `from ${who}` }, finish_reason: 'stop' }],
    usage: { prompt_tokens: 1, completion_tokens: 2, total_tokens: 3 },
  },
});

export const chunk = (who: string, content: string | null, finish: string | null = null) => ({
  id: `chatcmpl-${who}`, object: 'chat.completion.chunk', created: 1, model: `model-${who}`,
  choices: [{ index: 0, delta: content === null ? {} : { role: 'assistant', content }, finish_reason: finish }],
});

/** A stream saying `hello from <who>`, then stop and [DONE]. */
export const streamOf = (who: string): FakeResponse => ({ sse: [chunk(who, 'hello '), chunk(who, `from ${who}`), chunk(who, null, 'stop'), '[DONE]'] });
