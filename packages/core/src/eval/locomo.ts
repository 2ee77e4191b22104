import { checkOptions, is } from '../util/options.js';
import { parseDialogueDate } from './dates.js';
import type { EvalCorpus, EvalDataset, EvalQuestion, EvalUnit, UnitKind } from './types.js';
import { readJsonFile, Where } from './validate.js';

export interface LocomoOptions {
  /** What is indexed: turns, whole sessions, or the observation facts. @default 'turn' */
  unit?: UnitKind;
  /** Keep category 5 (adversarial: no answer in the conversation). @default false */
  includeAdversarial?: boolean;
}

const SESSION = /^session_(\d+)$/;

/** "D8:6", "d8:06" -> "D8:6"; undefined when it is not a dia_id. */
export function normalizeDiaId(id: string): string | undefined {
  const m = /^\s*D\s*(\d+)\s*:\s*(\d+)\s*$/i.exec(id);
  return m ? `D${Number(m[1])}:${Number(m[2])}` : undefined;
}

/**
 * Reads a LoCoMo file (`locomo10.json` list format). Turns are indexed as
 * "<speaker>: <text>", with the shared image's caption appended when the turn has one;
 * sessions as their turns joined; observations as their facts, keyed by the dia_id of
 * the turn that supports them. Evidence lists like "D8:6; D9:17" are split.
 */
export async function readLocomo(file: string, options: LocomoOptions = {}): Promise<EvalDataset> {
  checkOptions('readLocomo', options, { unit: is.oneOf('turn', 'session', 'observation'), includeAdversarial: is.boolean });
  const unit = options.unit ?? 'turn';
  const root = new Where(file, '$');
  const samples = root.array(await readJsonFile(file));
  const skipped: Record<string, number> = {};
  const skip = (reason: string) => (skipped[reason] = (skipped[reason] ?? 0) + 1);
  const corpora: EvalCorpus[] = samples.map((raw, index) => {
    const where = root.at(index);
    const sample = where.object(raw);
    const id = typeof sample.sample_id === 'string' ? sample.sample_id : `sample-${index}`;
    const convWhere = where.at('conversation');
    const conversation = convWhere.object(sample.conversation);
    const turns: EvalUnit[] = [];
    const sessionOf = new Map<string, string>();
    const sessions = Object.keys(conversation)
      .map((k) => SESSION.exec(k))
      .filter((m): m is RegExpExecArray => m !== null)
      .sort((a, b) => Number(a[1]) - Number(b[1]));
    const sessionUnits: EvalUnit[] = [];
    for (const match of sessions) {
      const n = match[1]!;
      const sWhere = convWhere.at(match[0]);
      const dateText = conversation[`session_${n}_date_time`];
      const dateTime = typeof dateText === 'string' ? parseDialogueDate(dateText) : undefined;
      const sessionTurns: EvalUnit[] = [];
      sWhere.array(conversation[match[0]]).forEach((rawTurn, t) => {
        const tWhere = sWhere.at(t);
        const turn = tWhere.object(rawTurn);
        const speaker = tWhere.at('speaker').string(turn.speaker);
        const text = tWhere.at('text').string(turn.text);
        const diaId = normalizeDiaId(tWhere.at('dia_id').string(turn.dia_id)) ?? tWhere.at('dia_id').fail('a dia_id like "D1:3"', turn.dia_id);
        const caption = typeof turn.blip_caption === 'string' && turn.blip_caption.trim() ? ` [shares an image: ${turn.blip_caption.trim()}]` : '';
        const u: EvalUnit = { key: diaId, text: `${speaker}: ${text}${caption}`, speaker, session: n };
        if (dateTime) u.dateTime = dateTime;
        sessionTurns.push(u);
        sessionOf.set(diaId, `S${n}`);
      });
      turns.push(...sessionTurns);
      if (sessionTurns.length > 0) {
        const s: EvalUnit = { key: `S${n}`, text: sessionTurns.map((t) => t.text).join('\n'), session: n };
        if (dateTime) s.dateTime = dateTime;
        sessionUnits.push(s);
      }
    }

    let units: EvalUnit[] = turns;
    if (unit === 'session') units = sessionUnits;
    if (unit === 'observation') units = readObservations(where.at('observation'), sample.observation, turns);

    const questions: EvalQuestion[] = [];
    const qaWhere = where.at('qa');
    qaWhere.array(sample.qa).forEach((rawQ, q) => {
      const qWhere = qaWhere.at(q);
      const qa = qWhere.object(rawQ);
      const text = qWhere.at('question').string(qa.question);
      const category = String(qa.category ?? '');
      if (category === '5' && !options.includeAdversarial) return skip('adversarial (category 5)');
      const evWhere = qWhere.at('evidence');
      const turnIds = evWhere
        .array(qa.evidence ?? [])
        .flatMap((e, i) => evWhere.at(i).string(e).split(/[;,]/))
        .map((e) => normalizeDiaId(e))
        .filter((e): e is string => e !== undefined);
      if (turnIds.length === 0) return skip('no evidence');
      const evidence = unit === 'session' ? turnIds.map((t) => sessionOf.get(t) ?? `S${/^D(\d+)/.exec(t)![1]}`) : turnIds;
      questions.push({ id: `${id}#${q}`, text, evidence: [...new Set(evidence)], category });
    });
    return { id, units, questions };
  });
  return { source: file, format: 'locomo', unit, corpora, skipped };
}

function readObservations(where: Where, raw: unknown, turns: EvalUnit[]): EvalUnit[] {
  const bySession = where.object(raw);
  const turnByKey = new Map(turns.map((t) => [t.key, t]));
  const units: EvalUnit[] = [];
  for (const [sessionKey, perSpeaker] of Object.entries(bySession)) {
    const sWhere = where.at(sessionKey);
    for (const [speaker, facts] of Object.entries(sWhere.object(perSpeaker))) {
      const fWhere = sWhere.at(speaker);
      fWhere.array(facts).forEach((rawFact, i) => {
        const factWhere = fWhere.at(i);
        const fact = factWhere.array(rawFact);
        const text = factWhere.at(0).string(fact[0]);
        // Some facts cite several turns ("D1:3; D1:5"); the first is the key.
        const cited = (Array.isArray(fact[1]) ? fact[1] : [fact[1]]).flatMap((v) => String(v).split(/[;,]/)).map((v) => normalizeDiaId(v)).filter((v): v is string => v !== undefined);
        const key = cited[0] ?? factWhere.at(1).fail('the dia_id of the supporting turn', fact[1]);
        const turn = turnByKey.get(key);
        const u: EvalUnit = { key, text, speaker };
        if (turn?.session) u.session = turn.session;
        if (turn?.dateTime) u.dateTime = turn.dateTime;
        units.push(u);
      });
    }
  }
  return units;
}
