import { appendFile, readFile } from 'node:fs/promises';
import { EvomemError } from '../errors.js';
import { parseTime, TIME_FORMATS } from '../util/dates.js';
import { fileError } from '../util/files.js';
import { checkOptions, is } from '../util/options.js';
import type { EvalCorpus, EvalDataset, EvalUnit, UnitKind } from './types.js';
import { Where } from './validate.js';

/**
 * One line of a memory log: what an agent's memory layer was given in one call (`turns`)
 * and the memories it made of them, e.g. facts an LLM extracted. Each memory is linked to
 * the turns of its call, which makes (memory, source turn) training pairs from a user's own
 * data. `@evomem/mem0`'s `EvomemMemory` writes it with `memoryLog`.
 */
export interface MemoryLogRecord {
  format: 'evomem-memory-log';
  version: 1;
  /** Whose memory: one conversation per user. */
  user: string;
  /** ISO 8601 time of the call. */
  time: string;
  turns: { speaker: string; text: string }[];
  memories: { id?: string; text: string }[];
}

/** Appends one record as a JSON line; an append never rewrites earlier lines. */
export async function appendMemoryLog(file: string, record: Omit<MemoryLogRecord, 'format' | 'version'>): Promise<void> {
  const line: MemoryLogRecord = { format: 'evomem-memory-log', version: 1, ...record };
  await appendFile(file, `${JSON.stringify(line)}\n`).catch((error: unknown) => {
    throw fileError(error, file, 'append to the memory log');
  });
}

/** Whether the text starts like a memory log (a JSON line with its format tag). */
export function looksLikeMemoryLog(text: string): boolean {
  const first = text.trimStart().split('\n', 1)[0] ?? '';
  return first.startsWith('{') && first.includes('"evomem-memory-log"');
}

/**
 * Reads a memory log as a dataset: one corpus per user, one session per call, turns keyed
 * `D<session>:<n>` as in LoCoMo, and each memory a question whose evidence is its call's
 * turns (category `memory`). A memory identical to one of its turns (a raw add) says
 * nothing new and is skipped, counted in `skipped`.
 */
export async function readMemoryLog(file: string, options: { unit?: UnitKind } = {}): Promise<EvalDataset> {
  checkOptions('readMemoryLog', options, { unit: is.oneOf('turn', 'session', 'observation') });
  const unit = options.unit ?? 'turn';
  if (unit === 'observation') throw new EvomemError('INVALID_OPTION', `${file} is a memory log: its units are turns or sessions (its memories are the queries).`);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    throw new EvomemError('DATASET_INVALID', `Cannot read ${file}: ${(error as Error).message}`, { cause: error });
  }
  const skipped: Record<string, number> = {};
  const byUser = new Map<string, EvalCorpus & { sessions: number }>();
  const lines = text.split('\n');
  // A crash mid-append leaves a torn last line (no newline after it); the lines before are whole.
  const tornAt = text.endsWith('\n') ? -1 : lines.length - 1;
  lines.forEach((line, index) => {
    if (line.trim() === '') return;
    const where = new Where(file, `line ${index + 1}`);
    let raw: unknown;
    try {
      raw = JSON.parse(line);
    } catch (error) {
      if (index === tornAt) {
        skipped['torn last line'] = 1;
        return;
      }
      throw new EvomemError('DATASET_INVALID', `${file}:${index + 1} is not valid JSON: ${(error as Error).message}`, { cause: error });
    }
    const record = where.object(raw);
    if (record.format !== 'evomem-memory-log' || record.version !== 1) where.at('format').fail('"evomem-memory-log" with version 1', record.format);
    const user = where.at('user').string(record.user);
    const corpus = byUser.get(user) ?? { id: user, units: [], questions: [], sessions: 0 };
    byUser.set(user, corpus);
    const session = ++corpus.sessions;
    const turns = where.at('turns').array(record.turns).map((t, i) => {
      const tw = where.at('turns').at(i);
      const turn = tw.object(t);
      return { speaker: tw.at('speaker').string(turn.speaker), text: tw.at('text').string(turn.text) };
    });
    const time = readTime(where, record.time);
    const keys = turns.map((t, i) => {
      const u: EvalUnit = { key: `D${session}:${i + 1}`, text: `${t.speaker}: ${t.text}`, speaker: t.speaker, session: String(session) };
      if (time) u.dateTime = time;
      corpus.units.push(u);
      return u.key;
    });
    if (unit === 'session' && turns.length) {
      corpus.units.splice(corpus.units.length - turns.length, turns.length, {
        key: `S${session}`,
        text: turns.map((t) => `${t.speaker}: ${t.text}`).join('\n'),
        session: String(session),
        ...(time ? { dateTime: time } : {}),
      });
    }
    const verbatim = new Set(turns.flatMap((t) => [t.text.trim(), `${t.speaker}: ${t.text}`.trim()]));
    where.at('memories').array(record.memories).forEach((m, i) => {
      const mw = where.at('memories').at(i);
      const memory = mw.object(m);
      const fact = mw.at('text').string(memory.text);
      if (verbatim.has(fact.trim()) || keys.length === 0) {
        skipped['memory is a stored turn'] = (skipped['memory is a stored turn'] ?? 0) + 1;
        return;
      }
      corpus.questions.push({
        id: typeof memory.id === 'string' ? memory.id : `${user}#${session}.${i + 1}`,
        text: fact,
        evidence: unit === 'session' ? [`S${session}`] : keys,
        category: 'memory',
        ...(time ? { date: time } : {}),
      });
    });
  });
  const corpora = [...byUser.values()].map(({ sessions: _, ...c }) => c);
  if (corpora.length === 0) throw new EvomemError('DATASET_INVALID', `${file} holds no memory log records.`);
  return { source: file, format: 'memory-log', unit, corpora, skipped };
}

/**
 * A record's `time` as UTC without offset ("2026-05-07T16:30:00.000" for
 * "2026-05-07T18:30:00+02:00"), the form dataset times take; undefined when it has none.
 */
function readTime(where: Where, time: unknown): string | undefined {
  if (time === undefined) return undefined;
  const parsed = typeof time === 'string' ? parseTime(time) : undefined;
  if (!parsed) return where.at('time').fail(`a time: ${TIME_FORMATS}`, time);
  return new Date(parsed.ms).toISOString().slice(0, -1);
}
