import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

// `pnpm demo` runs this script after building core and the default model.
const DEMO = fileURLToPath(new URL('../../scripts/demo.mjs', import.meta.url));
const demo = async (...args: string[]) => {
  try {
    const { stdout, stderr } = await promisify(execFile)(process.execPath, [DEMO, ...args], { env: { ...process.env, NODE_NO_WARNINGS: '1' } });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
};

describe('pnpm demo', () => {
  it('prints its usage for --help and -h', async () => {
    for (const flag of ['--help', '-h']) {
      const { code, stdout, stderr } = await demo(flag);
      expect(code).toBe(0);
      expect(stdout).toMatch(/^Usage: pnpm demo \[--model PATH\|HUB_ID\] \[--data FILE\] \[--k N\]\n/);
      expect(stdout).toMatch(/--k N +turns shown per question/);
      expect(stderr).toBe('');
    }
  });

  it('answers an unknown option, a stray argument or a bad --k with one line, the usage and exit code 2', async () => {
    const cases: [string[], RegExp][] = [
      [['--bogus'], /^demo: Unknown option '--bogus'/],
      [['stray'], /^demo: Unexpected argument 'stray'/],
      ...['0', '-1', '2.5', 'three'].map((k): [string[], RegExp] => [[`--k=${k}`], new RegExp(`^demo: --k must be a positive integer; got "${k.replace('.', '\\.')}"\\.\\n`)]),
    ];
    for (const [args, message] of cases) {
      const { code, stdout, stderr } = await demo(...args);
      expect(code).toBe(2);
      expect(stderr).toMatch(message);
      expect(stderr).toMatch(/\nUsage: pnpm demo/);
      expect(stderr).not.toMatch(/\n\s+at /);
      expect(stdout).toBe('');
    }
  });

  it('names a missing or folder --data in one line', async () => {
    const dir = await mkdtemp(`${tmpdir()}/evomem-demo-`);
    try {
      const folder = await demo('--data', dir);
      expect(folder.code).toBe(1);
      expect(folder.stderr).toBe(`demo: --data ${dir} is a folder; pass a dataset file.\n`);
      expect((await demo('--data', `${dir}/missing.json`)).stderr).toBe(`demo: --data ${dir}/missing.json does not exist; pass a dataset file.\n`);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('explains gold and the check mark before the results, and marks exactly the retrieved gold turns', async () => {
    const { code, stdout } = await demo('--k', '2');
    expect(code).toBe(0);
    const lines = stdout.split('\n');
    const legend = lines.findIndex((l) => l.startsWith('gold = '));
    const firstQuestion = lines.findIndex((l) => l.startsWith('Q: '));
    expect(legend).toBeGreaterThan(-1);
    expect(legend).toBeLessThan(firstQuestion);
    expect(lines[legend]).toMatch(/✓ = a retrieved turn that is gold/);
    let found = 0;
    let gold = 0;
    for (let i = firstQuestion; lines[i]?.startsWith('Q: '); i += 3) {
      const [, ids, hits, total] = /\(gold (.+): (\d+)\/(\d+) in top 2\)$/.exec(lines[i]!)!;
      const goldIds = ids!.split(', ');
      const shown = lines.slice(i + 1, i + 3);
      expect(shown).toHaveLength(2);
      for (const line of shown) {
        const [, mark, id] = /^ {2}([✓ ]) (\S+)/.exec(line)!;
        expect(mark === '✓').toBe(goldIds.includes(id!));
      }
      expect(shown.filter((l) => l.startsWith('  ✓')).length).toBe(Number(hits));
      expect(goldIds).toHaveLength(Number(total));
      found += Number(hits);
      gold += Number(total);
    }
    expect(gold).toBeGreaterThan(0);
    expect(stdout).toContain(`\ngold turns found in the top 2: ${found}/${gold}\n`);
  });
});
