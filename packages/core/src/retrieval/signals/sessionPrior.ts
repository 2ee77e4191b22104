import { Bm25Index, type Bm25Options } from '../Bm25Index.js';
import { standardize } from '../fusion.js';

/**
 * Session-level scores as a prior for the turns of each session (MemGAS's multi-granularity
 * memory; LongMemEval's session keys): a question's words are often spread over a
 * session's turns, not in any single one. Units without a session form one session.
 *
 * @example
 * const prior = new SessionPrior(['Maya: pottery class', 'Theo: it went well', 'Maya: tomatoes'], ['1', '1', '2']);
 * prior.lexical('how did the pottery class go'); // turns of session 1 above those of session 2
 */
export class SessionPrior {
  /** Each unit's session, as a position in the list of sessions. */
  readonly #sessionOf: Int32Array;
  readonly #sessions: number;
  readonly #index: Bm25Index;

  constructor(texts: readonly string[], sessions: readonly (string | undefined)[], bm25?: Bm25Options) {
    const position = new Map<string | undefined, number>();
    this.#sessionOf = Int32Array.from(sessions, (s) => {
      let p = position.get(s);
      if (p === undefined) position.set(s, (p = position.size));
      return p;
    });
    this.#sessions = position.size;
    const joined: string[][] = Array.from({ length: this.#sessions }, () => []);
    texts.forEach((t, i) => joined[this.#sessionOf[i]!]!.push(t));
    this.#index = new Bm25Index(
      joined.map((parts) => parts.join('\n')),
      bm25,
    );
  }

  /** Each unit's session BM25 for the query, z-scored over sessions (all 0 with one session). */
  lexical(query: string): Float64Array {
    return this.#broadcast(standardize(this.#index.scores(query)));
  }

  /**
   * Each unit's session score from unit scores: the best unit of the session (a session is as
   * close to the query as its closest turn), z-scored over sessions.
   */
  best(unitScores: ArrayLike<number>): Float64Array {
    const best = new Float64Array(this.#sessions).fill(-Infinity);
    for (let i = 0; i < this.#sessionOf.length; i++) best[this.#sessionOf[i]!] = Math.max(best[this.#sessionOf[i]!]!, unitScores[i]!);
    return this.#broadcast(standardize(best));
  }

  #broadcast(perSession: Float64Array): Float64Array {
    return Float64Array.from(this.#sessionOf, (s) => perSession[s]!);
  }
}
