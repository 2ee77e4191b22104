import { describe, expect, it } from 'vitest';
import { tinyEncoderForSuite } from '../encoder/fixtures.js';
import { EvolvingEncoder } from './EvolvingEncoder.js';
import { EvolvingMemory } from './EvolvingMemory.js';

describe('speaker prefix', () => {
  const encoder = tinyEncoderForSuite();
  const turns = [
    { id: 'a', speaker: 'Maya', text: 'I moved to Denver.' },
    { id: 'b', speaker: 'Sam', text: 'How is the new job?' },
    { id: 'c', speaker: 'Maya', text: 'She got the nurse position.' },
  ];

  it('reads a text that already starts with its speaker exactly like the bare text', async () => {
    const ingest = (prefixed: boolean) =>
      new EvolvingMemory(new EvolvingEncoder(encoder(), { capacity: 8 })).stream('s').ingest(turns.map((t) => ({ ...t, text: prefixed ? `${t.speaker}: ${t.text}` : t.text })));
    const [bare, prefixed] = await Promise.all([ingest(false), ingest(true)]);
    expect(prefixed).toEqual(bare);
  });

  it('still prefixes a text that only mentions another speaker', async () => {
    const memory = () => new EvolvingMemory(new EvolvingEncoder(encoder(), { capacity: 8, context: false, latent: false })).stream('s');
    const [asSam] = await memory().ingest([{ id: 'a', speaker: 'Sam', text: 'Maya: moved.' }]);
    const [asMaya] = await memory().ingest([{ id: 'a', speaker: 'Maya', text: 'Maya: moved.' }]);
    expect(asSam).not.toEqual(asMaya);
  });
});
