import { describe, expect, it } from 'vitest';
import { fromNeighbour, neighbourLinks } from './neighbourhood.js';

describe('neighbourhood', () => {
  it('links adjacent turns of the same session only', () => {
    const { prev, next } = neighbourLinks(['1', '1', '1', '2', '2', undefined, undefined]);
    expect([...prev]).toEqual([-1, 0, 1, -1, 3, -1, 5]);
    expect([...next]).toEqual([1, 2, -1, 4, -1, 6, -1]);
  });

  it("reads the previous turn's score at its reply, and the edge value where there is none", () => {
    const { prev, next } = neighbourLinks(['1', '1', '2']);
    expect([...fromNeighbour([5, 7, 9], prev)]).toEqual([0, 5, 0]);
    expect([...fromNeighbour([5, 7, 9], next, -1)]).toEqual([7, -1, -1]);
  });
});
