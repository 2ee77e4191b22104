import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

/** The built CLI, for tests that run it as a user runs it. */
export const CLI = fileURLToPath(new URL('../dist/cli.js', import.meta.url));
/** The repository's LoCoMo-format sample. */
export const SAMPLE = fileURLToPath(new URL('../../../data/sample-conversation.json', import.meta.url));

/** Runs `evomem ...args` in a child process; never throws for a non-zero exit. */
export async function runCli(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await promisify(execFile)(process.execPath, [CLI, ...args], { env: { ...process.env, NODE_NO_WARNINGS: '1' } });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}
