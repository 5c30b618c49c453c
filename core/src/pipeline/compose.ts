import type { Invocation, StageMiddleware } from '@gatehouse/sdk';

/** Koa-compose for stage middleware: built once per configuration, not per request. */
export function compose(mws: StageMiddleware[]): (inv: Invocation) => Promise<void> {
  return (inv) => {
    let index = -1;
    const dispatch = (i: number): Promise<void> => {
      if (i <= index) return Promise.reject(new Error('next() called multiple times'));
      index = i;
      const fn = mws[i];
      if (!fn) return Promise.resolve();
      try { return Promise.resolve(fn(inv, () => dispatch(i + 1))); } catch (e) { return Promise.reject(e); }
    };
    return dispatch(0);
  };
}
