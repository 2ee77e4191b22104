/** Each unit's previous and next unit in the same session, by position; -1 at a session's edge. */
export interface NeighbourLinks {
  prev: Int32Array;
  next: Int32Array;
}

/**
 * Links units in the order they were added: two adjacent units are neighbours when they
 * belong to the same session (units without a session form one session together), so an
 * exchange never spans two conversations' sessions.
 *
 * @example
 * neighbourLinks(['1', '1', '2']); // prev [-1, 0, -1], next [1, -1, -1]
 */
export function neighbourLinks(sessions: readonly (string | undefined)[]): NeighbourLinks {
  const n = sessions.length;
  const prev = new Int32Array(n).fill(-1);
  const next = new Int32Array(n).fill(-1);
  for (let i = 1; i < n; i++) {
    if (sessions[i] === sessions[i - 1]) {
      prev[i] = i - 1;
      next[i - 1] = i;
    }
  }
  return { prev, next };
}

/**
 * The neighbour's score at each unit: evidence sits in exchanges, and the answer to a
 * question is often the reply to the turn that names its subject (that turn's score,
 * read at the reply, is `fromNeighbour(scores, links.prev)`). `edge` is the value where
 * there is no neighbour: 0, the mean of a z-scored list, says "no information".
 */
export function fromNeighbour(scores: ArrayLike<number>, link: Int32Array, edge = 0): Float64Array {
  return Float64Array.from(link, (j) => (j < 0 ? edge : scores[j]!));
}
