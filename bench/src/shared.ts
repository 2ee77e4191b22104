import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const benchRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const workDir = resolve(benchRoot, '.work');
export const resultsDir = resolve(benchRoot, 'results');
export const sharedDir = process.env.EVOMEM_SHARED ?? resolve(benchRoot, '..', '..', 'shared');

export function requireShared(): void {
  if (!existsSync(resolve(sharedDir, 'models'))) {
    console.error(`The benchmarks need ${sharedDir} (model configs, tokenizers, LoCoMo dev data). Set EVOMEM_SHARED to its path.`);
    process.exit(2);
  }
}

/** LoCoMo turns as "speaker: text", in file order. */
export async function locomoTurns(): Promise<string[]> {
  const data = JSON.parse(await readFile(resolve(sharedDir, 'data/locomo/locomo-dev.json'), 'utf8')) as { conversation: Record<string, unknown> }[];
  const turns: string[] = [];
  for (const sample of data) {
    const sessions = Object.keys(sample.conversation)
      .filter((k) => /^session_\d+$/.test(k))
      .sort((a, b) => Number(a.split('_')[1]) - Number(b.split('_')[1]));
    for (const key of sessions) for (const turn of sample.conversation[key] as { speaker: string; text: string }[]) turns.push(`${turn.speaker}: ${turn.text}`);
  }
  return turns;
}

/** `n` texts: the turns cycled in order. */
export function cycle<T>(items: T[], n: number): T[] {
  return Array.from({ length: n }, (_, i) => items[i % items.length]!);
}

export function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
}

export function table(headers: string[], rows: (string | number)[][]): string {
  const cells = [headers, ...rows.map((r) => r.map(String))];
  const widths = headers.map((_, c) => Math.max(...cells.map((r) => r[c]!.length)));
  const line = (r: string[]) => `| ${r.map((v, c) => v.padEnd(widths[c]!)).join(' | ')} |`;
  return [line(cells[0]!), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...cells.slice(1).map(line)].join('\n');
}

/** The benchmark's own arguments: `pnpm bench:x -- --flag` hands the script a leading `--`. */
export function benchArgs(): string[] {
  const args = process.argv.slice(2);
  return args[0] === '--' ? args.slice(1) : args;
}

/**
 * A path given on the command line, resolved where the user typed it: pnpm runs the
 * script in bench/, and sets INIT_CWD to the folder the command was run from.
 */
export function userPath(path: string): string {
  return resolve(process.env.INIT_CWD ?? process.cwd(), path);
}

/** The command line that ran this benchmark, as a user would type it. */
export function commandLine(script: string, root = `bench:${script}`): string {
  const args = benchArgs().map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, "'\\''")}'`));
  return [`pnpm ${root}`, ...args].join(' ');
}

/**
 * What produced a results file: the command, the commit, whether the tree had changes (and
 * a SHA-256 of `git diff HEAD`, to tell two dirty trees apart), the date.
 */
export async function provenance(command: string): Promise<{ command: string; commit: string; dirty: boolean; diffSha256: string | null; date: string }> {
  const { execFileSync } = await import('node:child_process');
  const { createHash } = await import('node:crypto');
  const git = (...a: string[]) => {
    try {
      return execFileSync('git', a, { cwd: benchRoot, encoding: 'utf8', maxBuffer: 1 << 28 }).trim();
    } catch {
      return '';
    }
  };
  const dirty = git('status', '--porcelain').length > 0;
  return {
    command,
    commit: git('rev-parse', 'HEAD') || 'unknown',
    dirty,
    diffSha256: dirty ? createHash('sha256').update(git('diff', 'HEAD')).digest('hex') : null,
    date: new Date().toISOString(),
  };
}
