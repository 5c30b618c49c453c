import type { Invocation, Stage, StageMiddleware } from '@gatehouse/sdk';

/** Where an error came from: the first step it passed through is the one that threw it. */
export const ORIGIN = Symbol.for('gatehouse.errorOrigin');
export interface Step { stage: Stage; owner: string; mw: StageMiddleware }

/** Tag an error with the step it came out of, unless an inner step already did. */
function tag(e: unknown, step: Step): unknown {
  if (e && typeof e === 'object' && !(ORIGIN in e)) Object.defineProperty(e, ORIGIN, { value: { plugin: step.owner, stage: step.stage } });
  return e;
}

/**
 * Koa-compose for stage middleware: built once per configuration, not per request. Errors are
 * tagged with the plugin and stage that threw them — by a rejection handler on each step's
 * promise, not an async wrapper per step (no extra async frame per step and request).
 */
export function compose(steps: Step[]): (inv: Invocation) => Promise<void> {
  const bare = steps.map((s, i) => s.owner === 'core' && steps.slice(0, i).every((o) => o.owner === 'core'));
  return (inv) => {
    let index = -1;
    const dispatch = (i: number): Promise<void> => {
      if (i <= index) return Promise.reject(new Error(`next() called multiple times by '${steps[i - 1]?.owner}' in stage '${steps[i - 1]?.stage}'`));
      index = i;
      const step = steps[i];
      if (!step) return Promise.resolve();
      let out: Promise<void> | void;
      try { out = step.mw(inv, () => dispatch(i + 1)); } catch (e) { return Promise.reject(bare[i] ? e : tag(e, step)); }
      // A kernel step with no plugin step around it needs no tag (an untagged error is the kernel's or a provider's): one promise less.
      if (bare[i] && out instanceof Promise) return out;
      return Promise.resolve(out).then(undefined, (e: unknown) => { throw tag(e, step); });
    };
    return dispatch(0);
  };
}
