// Piscina worker: counts tokens with js-tiktoken off the event loop. Plain JavaScript on purpose:
// the same file serves the built package and the TypeScript sources (tests run from src/).
import { Tiktoken } from 'js-tiktoken/lite';

const encoders = new Map();

async function encoder(name) {
  let e = encoders.get(name);
  if (!e) {
    const ranks = name === 'o200k_base'
      ? (await import('js-tiktoken/ranks/o200k_base')).default
      : (await import('js-tiktoken/ranks/cl100k_base')).default;
    e = new Tiktoken(ranks);
    encoders.set(name, e);
  }
  return e;
}

/** @param {{ text: string, encoding: 'cl100k_base' | 'o200k_base' }} task */
export default async function countTokens({ text, encoding }) {
  // Special-token strings in user text are ordinary text here ([] disallowed), as providers count them.
  return (await encoder(encoding)).encode(text, [], []).length;
}
