import { Rng } from '@evomem/onnx-builder';

/** Varied sentences for embedding parity: every shape of input the tokenizer and graph must agree on. */
export const PARITY_SENTENCES: string[] = [
  'A man is eating food.',
  'A man is eating a piece of bread.',
  'The girl is carrying a baby.',
  'hello',
  'Hello, world!',
  '',
  'What did Caroline say about the adoption agency last week?',
  'Melanie: Wow, that sounds great! What happened there?',
  'I went there again last week.',
  'That sounds great!',
  '   ',
  'tabs\tand\tmore\ttabs',
  'line one\nline two\r\nline three',
  'Meet me at 1:56 pm on 8 May, 2023.',
  'The total was $1,234.56 (about 1.1k euros) on 2023-05-08T10:00:00Z.',
  'Call +1 (555) 010-9999 or write to a.b@example.org',
  'https://example.com/path?q=memory&x=1#frag',
  'ftp://files.example.net/pub/file.tar.gz',
  ':) hi there',
  ':-) smile',
  ':( sad',
  'Ending with a smile :)',
  'Emoji: 😀🎉👩‍👩‍👧 and flags 🇫🇷🇯🇵',
  '🎉',
  '日本語のテキストと中文文本',
  '한국어 문장입니다',
  'Ελληνικά κείμενα εδώ',
  'Русский текст для проверки',
  'עברית וערבית: مرحبا بالعالم',
  'हिन्दी वाक्य',
  'héllo wörld — naïve café, déjà vu',
  'ﬁne ﬂags with ligatures and ｆｕｌｌｗｉｄｔｈ text',
  'e\u0301 combining accent vs é precomposed',
  'non\u00a0breaking\u3000spaces',
  'ALL CAPS SHOUTING!!!',
  'ellipses... and?! interrobangs‽',
  "Don't won't can't y'all'd've",
  '<b>html</b> & "quotes" (parens) [brackets] {braces}',
  'snake_case camelCase kebab-case PascalCase',
  'a',
  '.',
  '?',
  'supercalifragilisticexpialidocious antidisestablishmentarianism',
  'The quick brown fox jumps over the lazy dog.',
  'She adopted a greyhound named Pepper from a rescue in Ohio.',
  'My sister starts the pediatric nurse job in Denver on the 15th.',
  'We made twelve jars of tomato sauce with San Marzanos.',
  'Replacement char \uFFFD inside',
  '\uFFFD\uFFFD\uFFFD',
  'Numbers only: 0 1 2 3 4 5 6 7 8 9 10 100 1000',
  'Mixed 123abc456def and v2.0.1-beta+build.5',
  'Repeated words words words words words',
  'word '.repeat(40).trim(),
  'A long memory of a long conversation. '.repeat(30).trim(),
  '🎉 '.repeat(200).trim(),
  'The end.',
];

const POOLS = [
  'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ',
  '0123456789',
  '.,;:!?\'"()[]{}<>-_/\\@#$%^&*+=~`|',
  ' \t\n\r\u00a0\u3000',
  'éèêëàâäôöûüçñßøåæœ',
  'ﬁﬂｆｕｌｌ①②³½™',
  '\u0301\u0308\u0327',
  '日本語中文한국어',
  'русскийελληνικάעבריתعربي',
  '😀🎉👍🏽❤️‍🔥',
  '\uFFFD',
];
const SNIPPETS = [':)', ':-)', ':(', '://', '):', ' :', '▁', '<s>', '</s>', 'extra_token_id_1', '  ', '...'];

/**
 * `count` strings from a seeded generator (the same seed gives the same corpus): words from
 * the vocabulary glued with spaces, punctuation and emoticons, and runs of characters from
 * many scripts, including ones NFKC rewrites and ones the vocabulary lacks.
 */
export function fuzzCorpus(vocab: [string, number | null][], count: number, seed = 2026): string[] {
  const rng = new Rng(seed);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(rng.next() * items.length)]!;
  const words = vocab.slice(6).map(([piece]) => piece.replace(/▁/g, ''));
  const chars = POOLS.map((pool) => Array.from(pool));
  const out: string[] = [];
  for (let i = 0; i < count; i++) {
    const parts: string[] = [];
    const n = Math.floor(rng.next() * 24);
    for (let j = 0; j < n; j++) {
      const r = rng.next();
      if (r < 0.45) parts.push(pick(words));
      else if (r < 0.6) parts.push(' ');
      else if (r < 0.7) parts.push(pick(SNIPPETS));
      else {
        const pool = pick(chars);
        const len = 1 + Math.floor(rng.next() * 4);
        for (let c = 0; c < len; c++) parts.push(pick(pool));
      }
    }
    out.push(parts.join(''));
  }
  return out;
}
