import { checkOptions, is } from '../util/options.js';
import { parseDialogueDate } from './dates.js';
import type { EvalCorpus, EvalDataset, EvalUnit } from './types.js';
import { readJsonFile, Where } from './validate.js';

export interface LongMemEvalOptions {
  /** Index turns or whole sessions. @default 'turn' */
  unit?: 'turn' | 'session';
  /** Keep abstention questions (ids ending in `_abs`: the answer is not in the history). @default false */
  includeAbstention?: boolean;
}

/**
 * Reads LongMemEval (`longmemeval_s.json`, `_m`, `_oracle`). Every question comes with its
 * own haystack of sessions, so every question is its own corpus. Turns are keyed
 * "<session id>#<turn index>" and indexed as "<role>: <content>"; the evidence is the
 * turns marked `has_answer` (turn units) or `answer_session_ids` (session units).
 */
export async function readLongMemEval(file: string, options: LongMemEvalOptions = {}): Promise<EvalDataset> {
  checkOptions('readLongMemEval', options, { unit: is.oneOf('turn', 'session'), includeAbstention: is.boolean });
  const unit = options.unit ?? 'turn';
  const root = new Where(file, '$');
  const skipped: Record<string, number> = {};
  const skip = (reason: string) => (skipped[reason] = (skipped[reason] ?? 0) + 1);
  const corpora: EvalCorpus[] = [];
  root.array(await readJsonFile(file)).forEach((raw, index) => {
    const where = root.at(index);
    const record = where.object(raw);
    const id = where.at('question_id').string(record.question_id);
    if (id.endsWith('_abs') && !options.includeAbstention) return skip('abstention (_abs)');
    const question = where.at('question').string(record.question);
    const category = where.at('question_type').string(record.question_type);
    const sessionIds = where.at('haystack_session_ids').array(record.haystack_session_ids).map((s, i) => where.at('haystack_session_ids').at(i).string(s));
    const dates = Array.isArray(record.haystack_dates) ? record.haystack_dates : [];
    const sessionsWhere = where.at('haystack_sessions');
    const sessions = sessionsWhere.array(record.haystack_sessions);
    if (sessions.length !== sessionIds.length) sessionsWhere.fail(`as long as haystack_session_ids (${sessionIds.length})`, `${sessions.length} sessions`);

    const turns: EvalUnit[] = [];
    const sessionUnits: EvalUnit[] = [];
    const answerTurns: string[] = [];
    sessions.forEach((rawSession, s) => {
      const sWhere = sessionsWhere.at(s);
      const sessionId = sessionIds[s]!;
      const dateTime = typeof dates[s] === 'string' ? parseDialogueDate(dates[s] as string) : undefined;
      const texts: string[] = [];
      sWhere.array(rawSession).forEach((rawTurn, t) => {
        const tWhere = sWhere.at(t);
        const turn = tWhere.object(rawTurn);
        const role = tWhere.at('role').string(turn.role);
        const content = tWhere.at('content').string(turn.content);
        const key = `${sessionId}#${t}`;
        const u: EvalUnit = { key, text: `${role}: ${content}`, speaker: role, session: sessionId };
        if (dateTime) u.dateTime = dateTime;
        turns.push(u);
        texts.push(u.text);
        if (turn.has_answer === true) answerTurns.push(key);
      });
      const su: EvalUnit = { key: sessionId, text: texts.join('\n'), session: sessionId };
      if (dateTime) su.dateTime = dateTime;
      sessionUnits.push(su);
    });
    const answerSessions = where.at('answer_session_ids').array(record.answer_session_ids ?? []).map(String);
    const evidence = unit === 'turn' ? answerTurns : answerSessions;
    if (evidence.length === 0) return skip(unit === 'turn' ? 'no turn marked has_answer' : 'no answer_session_ids');
    const date = typeof record.question_date === 'string' ? parseDialogueDate(record.question_date) : undefined;
    corpora.push({
      id,
      units: unit === 'turn' ? turns : sessionUnits,
      questions: [{ id, text: question, evidence: [...new Set(evidence)], category, ...(date ? { date } : {}) }],
    });
  });
  return { source: file, format: 'longmemeval', unit, corpora, skipped };
}
