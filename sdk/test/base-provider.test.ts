import { describe, expect, it } from 'vitest';
import {
  BaseProvider, capabilitiesOf, chatResponse, defineProvider, isBaseProvider, type CallContext, type ChatRequest,
} from '../src/index.js';
import { createProviderInstance, rejection, testCall } from '../src/testing/index.js';

class Echo extends BaseProvider<{ prefix: string }> {
  closed = 0;
  override async chat(req: ChatRequest, _call: CallContext) {
    return chatResponse({ model: this.model.name ?? 'echo', choices: [{ message: { content: `${this.config.prefix}${String(req.messages[0]?.content)}` }, finish_reason: 'stop' }] });
  }
  close() { this.closed++; }
}
class LoudEcho extends Echo {
  override async chat(req: ChatRequest, call: CallContext) {
    const r = await super.chat(req, call);
    r.choices[0]!.message.content = String(r.choices[0]!.message.content).toUpperCase();
    return r;
  }
}

describe('BaseProvider and defineProvider({ provider })', () => {
  const def = defineProvider<{ prefix: string }>({ name: 'echo', displayName: 'Echo', requiresConfig: false, provider: Echo });

  it('exposes only the overridden capabilities (what the kernel checks with typeof), bound to the instance', async () => {
    expect(def.capabilities).toEqual(['chat']);
    const inst = createProviderInstance(def, { config: { prefix: '> ' }, model: 'e1' });
    expect(Object.keys(inst).sort()).toEqual(['chat', 'close']);
    expect(typeof inst.embeddings).toBe('undefined');
    const { chat } = inst;
    expect((await chat!({ messages: [{ role: 'user', content: 'hi' }] }, testCall())).choices[0]!.message.content).toBe('> hi');
  });

  it('subclasses of subclasses keep their overrides; capabilitiesOf reads the prototype chain', async () => {
    expect(capabilitiesOf(LoudEcho)).toEqual(['chat']);
    const loud = createProviderInstance(defineProvider({ name: 'loud', displayName: 'Loud', requiresConfig: false, provider: LoudEcho }), { config: { prefix: '' } });
    expect((await loud.chat!({ messages: [{ role: 'user', content: 'hi' }] }, testCall())).choices[0]!.message.content).toBe('HI');
  });

  it('the base methods answer 501 with MLflow\'s message and the display name', async () => {
    const raw = new Echo({ config: { prefix: '' }, model: { name: null, provider: 'echo' }, endpoint: { name: 'e', endpoint_type: 'llm/v1/embeddings' }, http: null as any, logger: null as any, timeoutMs: 1 });
    expect(isBaseProvider(raw)).toBe(true);
    const err = await rejection(raw.embeddings({ input: 'x' }, testCall()));
    expect([err.status, err.message]).toEqual([501, 'The embeddings route is not implemented for Echo models.']);
    const viaCreate = defineProvider({ name: 'echo2', displayName: 'Echo Two', requiresConfig: false, create: (ctx) => new Echo(ctx as any) });
    const inst = createProviderInstance(viaCreate, { config: { prefix: '' } });
    expect(Object.keys(inst).sort()).toEqual(['chat', 'close']);
    expect(() => raw.chatStream({ messages: [] }, testCall())).toThrow('The chat streaming route is not implemented for Echo models.');
  });

  it('object style is unchanged, and exactly one of create / provider is required', async () => {
    const plain = { chat: async () => chatResponse({ model: 'm', choices: [] }) };
    // Unchanged where nothing is folded (a provider that takes max_completion_tokens as it is)...
    const obj = defineProvider({ name: 'obj', displayName: 'Obj', requiresConfig: false, acceptsMaxCompletionTokens: true, create: () => plain });
    expect(createProviderInstance(obj, { config: {} })).toBe(plain);
    // ...otherwise its own methods answer, behind the max_completion_tokens fold (params.test.ts).
    const folded = createProviderInstance(defineProvider({ name: 'obj2', displayName: 'Obj', requiresConfig: false, create: () => plain }), { config: {} });
    expect(Object.keys(folded)).toEqual(['chat']);
    expect(await folded.chat!({ messages: [] }, { signal: new AbortController().signal })).toEqual(await plain.chat());
    expect(() => defineProvider({ name: 'none', displayName: 'None' } as any)).toThrow('needs exactly one of create or provider');
    expect(() => defineProvider({ name: 'both', displayName: 'Both', provider: Echo, create: () => plain } as any)).toThrow('needs exactly one of create or provider');
  });
});
