import { describe, expect, it } from 'vitest';
import { segmentMeta } from './SearchIndex.js';

describe('segmentMeta', () => {
  it('reads times the ways hosts keep them', () => {
    const iso = '2023-05-08T13:56:00.000Z';
    expect(segmentMeta('a', { timestamp: iso }).timestamp).toBe(iso);
    expect(segmentMeta('a', { timestamp: Date.parse(iso) }).timestamp).toBe(iso);
    expect(segmentMeta('a', { timestamp: new Date(iso) }).timestamp).toBe(iso);
    expect(segmentMeta('a', { timestamp: Date.parse(iso) / 1000 }).timestamp).toBe(iso);
    expect(segmentMeta('a', { timestamp: '1:56 pm on 8 May, 2023' }).timestamp).toBe('1:56 pm on 8 May, 2023');
  });

  it('leaves out what is not a time, and keeps speaker and session', () => {
    expect(segmentMeta('a', { timestamp: Number.NaN, speaker: 'Maya', session: 3 })).toEqual({ id: 'a', speaker: 'Maya', session: '3' });
    expect(segmentMeta('a', { timestamp: { when: 'now' } })).toEqual({ id: 'a' });
    expect(segmentMeta('a', { timestamp: 'yesterday' })).toEqual({ id: 'a' });
  });
});
