import { describe, expect, it } from 'vitest';
import { Bm25Index } from '../Bm25Index.js';
import { SessionPrior } from './sessionPrior.js';

describe('SessionPrior', () => {
  const texts = ['Maya: I joined a pottery class', 'Theo: how was the first lesson?', 'Maya: we made bowls', 'Theo: my tomatoes are red', 'Maya: lovely'];
  const sessions = ['1', '1', '1', '2', '2'];

  it("gives each turn its session's BM25, z-scored over sessions", () => {
    const prior = new SessionPrior(texts, sessions);
    const query = 'pottery lesson bowls';
    const raw = new Bm25Index(['Maya: I joined a pottery class\nTheo: how was the first lesson?\nMaya: we made bowls', 'Theo: my tomatoes are red\nMaya: lovely']).scores(query);
    // Two sessions: z-scores are +1 and -1 whenever they differ.
    expect(raw[0]).toBeGreaterThan(raw[1]!);
    expect([...prior.lexical(query)]).toEqual([1, 1, 1, -1, -1]);
    // A turn of session 1 that shares no word with the query still gets the session's prior.
    expect(new Bm25Index(texts).scores('pottery bowls')[1]).toBe(0);
    expect(prior.lexical('pottery bowls')[1]).toBe(1);
  });

  it("scores a session by its best turn, and is flat with one session", () => {
    const prior = new SessionPrior(texts, sessions);
    expect([...prior.best([0.1, 0.9, 0.2, 0.3, 0.4])]).toEqual([1, 1, 1, -1, -1]);
    expect([...new SessionPrior(texts, [undefined, undefined, undefined, undefined, undefined]).lexical('pottery')]).toEqual([0, 0, 0, 0, 0]);
  });
});
