import { execFile } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { appendMemoryLog, hubCacheFolder } from '@evomem/core';
import { writeBertFolder } from '@evomem/onnx-builder';
import ts from 'typescript';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { repoRoot } from './shared.js';

// Every ```ts / ```js block of the READMEs works as written, so they cannot drift from the
// code. A snippet is classified by an HTML comment on the line before its fence:
//   <!-- snippet: run -->       a complete program: run with node, offline, in an empty
//                               folder where the workspace packages resolve;
//   <!-- snippet: fragment -->  a line or two shown in context: it must parse, and every
//                               evomem name in it must be an export of an @evomem package.
// An unclassified snippet fails. Run snippets find in their folder:
//   - locomo10.json: the sample conversation (data/sample-conversation.json);
//   - memories.jsonl: a memory log made from it (each QA answer a memory of its evidence turns);
//   - every hub id they name (model: 'owner/name'): a tiny random-weight BERT in the model
//     cache, so nothing is downloaded (EVOMEM_OFFLINE=1).
// A `console.log(...); // text` line must print that text.

const execFileAsync = promisify(execFile);
const KINDS = ['run', 'fragment'] as const;
type Kind = (typeof KINDS)[number];

interface Snippet {
  where: string;
  lang: string;
  kind: string | undefined;
  code: string;
}

function readmes(): string[] {
  const files = ['README.md'];
  for (const dir of ['packages', 'examples']) {
    for (const name of readdirSync(join(repoRoot, dir)).sort()) {
      if (existsSync(join(repoRoot, dir, name, 'README.md'))) files.push(`${dir}/${name}/README.md`);
    }
  }
  return files;
}

function extract(file: string): Snippet[] {
  const lines = readFileSync(join(repoRoot, file), 'utf8').split('\n');
  const snippets: Snippet[] = [];
  for (let i = 0; i < lines.length; i++) {
    const open = /^(\s*)(`{3,})\s*(\w*)\s*$/.exec(lines[i]!);
    if (!open) continue;
    const [, indent, fence, lang] = open;
    let end = i + 1;
    while (end < lines.length && lines[end]!.trim() !== fence) end++;
    if (['ts', 'typescript', 'js', 'javascript', 'mjs'].includes(lang!)) {
      let before = i - 1;
      while (before >= 0 && lines[before]!.trim() === '') before--;
      const marker = before >= 0 ? /^\s*<!--\s*snippet:\s*([\w-]+)\s*-->\s*$/.exec(lines[before]!) : null;
      snippets.push({
        where: `${file}:${i + 1}`,
        lang: lang!,
        kind: marker?.[1],
        code: lines
          .slice(i + 1, end)
          .map((l) => (l.startsWith(indent!) ? l.slice(indent!.length) : l))
          .join('\n'),
      });
    }
    i = end;
  }
  return snippets;
}

const snippets = readmes().flatMap(extract);
const ofKind = (kind: Kind) => snippets.filter((s) => s.kind === kind);

/** TypeScript's syntax errors in a snippet, and the snippet as plain JavaScript. */
function transpile(snippet: Snippet): { js: string; errors: string[] } {
  const out = ts.transpileModule(snippet.code, {
    compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 },
    fileName: `snippet.${snippet.lang.startsWith('t') ? 'ts' : 'js'}`,
    reportDiagnostics: true,
  });
  const errors = (out.diagnostics ?? []).map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n'));
  return { js: out.outputText, errors };
}

describe('README snippets', () => {
  it('are found, and every one is classified', () => {
    expect(snippets.length).toBeGreaterThanOrEqual(15);
    const unclassified = snippets
      .filter((s) => !KINDS.includes(s.kind as Kind))
      .map((s) => `${s.where} (${s.kind ?? 'no <!-- snippet: run|fragment --> marker'})`);
    expect(unclassified).toEqual([]);
  });

  it('parse, and name only evomem exports that exist', async () => {
    const exported = new Set<string>();
    for (const pkg of ['core', 'langchain', 'llamaindex', 'mem0', 'model-use-lite']) {
      for (const name of Object.keys(await import(`@evomem/${pkg}`))) exported.add(name);
    }
    const problems: string[] = [];
    for (const snippet of snippets) {
      for (const error of transpile(snippet).errors) problems.push(`${snippet.where}: ${error}`);
      const imported = [...snippet.code.matchAll(/import\s*\{([^}]*)\}\s*from\s*'@evomem\/[\w-]+'/g)].flatMap((m) =>
        m[1]!.split(',').map((n) => n.trim().split(/\s+as\s+/)[0]!),
      );
      const named = snippet.code.match(/\b(?:Evomem|Evolving)\w*/g) ?? [];
      for (const name of new Set([...imported, ...named].filter(Boolean))) {
        if (!exported.has(name) && !/^(?:EVOMEM|Evomem)_/.test(name)) problems.push(`${snippet.where}: ${name} is not exported by any @evomem package`);
      }
    }
    expect(problems).toEqual([]);
  });
});

describe('README snippets marked run', () => {
  let work: string;
  let cache: string;
  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'evomem-snippets-'));
    cache = join(work, 'cache');
    const hubIds = new Set(ofKind('run').flatMap((s) => [...s.code.matchAll(/model:\s*'([\w.-]+\/[\w.-]+)'/g)].map((m) => m[1]!)));
    for (const id of hubIds) {
      const folder = hubCacheFolder(id, { cacheDir: cache });
      await writeBertFolder(folder, {
        config: { vocab_size: 0, hidden_size: 32, num_hidden_layers: 1, num_attention_heads: 4, intermediate_size: 64, max_position_embeddings: 128 },
        modelMaxLength: 128,
      });
      // What a finished download leaves; the cache trusts it and never calls the hub.
      await writeFile(join(folder, '.evomem-manifest.json'), JSON.stringify({ id, revision: 'main', dtypes: ['fp32'], completedAt: new Date().toISOString() }));
    }
  });
  afterAll(() => rm(work, { recursive: true, force: true }));

  async function fixtures(dir: string): Promise<void> {
    const sample = join(repoRoot, 'data', 'sample-conversation.json');
    await copyFile(sample, join(dir, 'locomo10.json'));
    const [conversation] = JSON.parse(readFileSync(sample, 'utf8')) as {
      conversation: Record<string, unknown>;
      qa: { answer: string; evidence: string[] }[];
    }[];
    const turns = new Map(
      Object.entries(conversation!.conversation)
        .filter(([key]) => /^session_\d+$/.test(key))
        .flatMap(([, session]) => session as { dia_id: string; speaker: string; text: string }[])
        .map((t) => [t.dia_id, t]),
    );
    for (const qa of conversation!.qa) {
      const evidence = qa.evidence.map((id) => turns.get(id)!).map(({ speaker, text }) => ({ speaker, text }));
      await appendMemoryLog(join(dir, 'memories.jsonl'), { user: 'maya', time: '2025-08-14T18:10:00Z', turns: evidence, memories: [{ text: qa.answer }] });
    }
  }

  for (const snippet of ofKind('run')) {
    it(`${snippet.where} runs as written`, async () => {
      const dir = await mkdtemp(join(work, 'run-'));
      await fixtures(dir);
      // The folder resolves packages as the test package does: the workspace's builds and the hosts.
      await symlink(resolve(repoRoot, 'test', 'node_modules'), join(dir, 'node_modules'), 'dir');
      const file = join(dir, 'snippet.mjs');
      await writeFile(file, transpile(snippet).js);
      await mkdir(join(dir, 'home'));
      const result = await execFileAsync(process.execPath, [file], {
        cwd: dir,
        timeout: 100_000,
        env: { ...process.env, HOME: join(dir, 'home'), EVOMEM_CACHE: cache, EVOMEM_OFFLINE: '1', HF_HUB_OFFLINE: '1', MEM0_TELEMETRY: 'false' },
      }).catch((error: { code?: number; stdout?: string; stderr?: string }) => error);
      expect(result.stderr ?? '', `stderr of ${snippet.where}`).not.toMatch(/Error|Warning/);
      expect((result as { code?: number }).code, `${snippet.where} failed:\n${result.stderr}`).toBeUndefined();
      for (const [, expected] of snippet.code.matchAll(/console\.log\(.*\);\s*\/\/\s*(.+)$/gm)) {
        expect(result.stdout, `${snippet.where} prints ${expected}`).toContain(expected!.trim());
      }
    }, 120_000);
  }
});
