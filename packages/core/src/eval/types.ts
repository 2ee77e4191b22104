/** One retrievable item: a turn, a session or an observation. */
export interface EvalUnit {
  /** What a question's evidence names: a dia_id ("D1:3"), a session ("S1"), a LongMemEval turn or session id. */
  key: string;
  /** The text indexed. */
  text: string;
  speaker?: string;
  /** Session number (LoCoMo) or id (LongMemEval). */
  session?: string;
  /** When the unit's session took place, ISO 8601 without zone, if the data says. */
  dateTime?: string;
}

export interface EvalQuestion {
  id: string;
  text: string;
  /** Keys of the units that hold the answer, at the unit's granularity. */
  evidence: string[];
  /** LoCoMo category ("1".."5") or LongMemEval question_type. */
  category: string;
  /** When the question is asked, ISO 8601, if the data says. */
  date?: string;
}

/** One searchable collection (a LoCoMo conversation, a LongMemEval haystack) and its questions. */
export interface EvalCorpus {
  id: string;
  units: EvalUnit[];
  questions: EvalQuestion[];
}

export type UnitKind = 'turn' | 'session' | 'observation';

export interface EvalDataset {
  /** The file read. */
  source: string;
  format: 'locomo' | 'longmemeval' | 'memory-log';
  unit: UnitKind;
  corpora: EvalCorpus[];
  /** Questions left out, by reason. */
  skipped: Record<string, number>;
}
