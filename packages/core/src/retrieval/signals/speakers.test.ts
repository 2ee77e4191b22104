import { describe, expect, it } from 'vitest';
import { namedSpeakers, speakerMatch, speakersOf } from './speakers.js';

describe('speakers', () => {
  it('finds the speakers a question names by any word of their name, ignoring case and possessives', () => {
    const speakers = ['Ross Geller', 'Rachel Green', 'Jo'];
    expect([...namedSpeakers("What is Rachel's plan?", speakers)]).toEqual(['Rachel Green']);
    expect([...namedSpeakers('what did ross tell RACHEL', speakers)].sort()).toEqual(['Rachel Green', 'Ross Geller']);
    // Words under three letters never name anyone: "jo" would match by accident.
    expect(namedSpeakers('Did Jo go?', speakers).size).toBe(0);
    // Stopwords name nobody: FriendsQA's "The Guys" is not named by "the", "#ALL#" not by "all".
    expect([...namedSpeakers('What did the guys say to all of them?', ['The Guys', '#ALL#', 'The Vendor'])]).toEqual(['The Guys']);
  });

  it('marks turns by a named speaker, including multi-party lines', () => {
    expect(speakersOf('Ross Geller and Rachel Green')).toEqual(['Ross Geller', 'Rachel Green']);
    expect(speakersOf('Ross, Rachel, and Monica')).toEqual(['Ross', 'Rachel', 'Monica']);
    const named = new Set(['Rachel Green']);
    expect([...speakerMatch(['Ross Geller', 'Rachel Green', 'Ross Geller and Rachel Green', undefined].map(speakersOf), named)]).toEqual([0, 1, 1, 0]);
    expect([...speakerMatch([['Ross Geller']], new Set())]).toEqual([0]);
  });
});
