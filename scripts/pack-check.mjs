// pnpm pack-check: what a new user gets from npm. Builds the publishable packages, packs each
// one as it would be published (pnpm rewrites workspace: ranges), installs the tarballs with
// npm into a plain project (no workspace, registry dependencies from npm, onnxruntime-node's
// CUDA download skipped), and runs there: an ESM import and embed on the default model, a
// CommonJS require of every package, `evomem --help`, `evomem eval` on the sample
// conversation, and the README snippets marked `<!-- snippet: run -->` as written (the
// LangChain swap among them).
// Usage: pnpm pack-check [--keep] [--no-build]
//   --keep      leave the temporary project and print its path
//   --no-build  pack the builds as they are
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const root = fileURLToPath(new URL('..', import.meta.url));
const keep = process.argv.includes('--keep');
const build = !process.argv.includes('--no-build');
const started = Date.now();
const seconds = () => `${((Date.now() - started) / 1000).toFixed(1)} s`;

/** Runs a command, echoing it; returns its stdout, keeps its stderr in `sh.stderr`, shows both when it fails. */
function sh(cmd, args, options = {}) {
  console.log(`$ ${[cmd, ...args].join(' ')}`);
  const result = spawnSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 64 * 1024 * 1024, ...options });
  sh.stderr = result.stderr ?? '';
  if (result.status !== 0) {
    process.stdout.write(result.stdout ?? '');
    process.stderr.write(sh.stderr);
    throw new Error(`pack-check: \`${[cmd, ...args].join(' ')}\` failed (${result.error?.message ?? `exit ${result.status ?? result.signal}`})`);
  }
  return result.stdout;
}

function check(name, ok, detail) {
  if (!ok) throw new Error(`pack-check: ${name} failed: ${detail}`);
  console.log(`ok   ${name}`);
}

const publishable = readdirSync(join(root, 'packages'))
  .map((dir) => ({ dir: join(root, 'packages', dir), manifest: JSON.parse(readFileSync(join(root, 'packages', dir, 'package.json'), 'utf8')) }))
  .filter(({ manifest }) => !manifest.private);

const work = mkdtempSync(join(tmpdir(), 'evomem-pack-check-'));
try {
  if (build) {
    const filters = publishable.map(({ manifest }) => `--filter=${manifest.name}`);
    sh('pnpm', ['exec', 'turbo', 'run', 'build', ...filters, '--output-logs=errors-only'], { cwd: root });
  }

  const tarballs = join(work, 'tarballs');
  mkdirSync(tarballs);
  const dependencies = {};
  for (const { dir, manifest } of publishable) {
    const out = sh('pnpm', ['pack', '--pack-destination', tarballs], { cwd: dir }).trim().split('\n');
    dependencies[manifest.name] = `file:${out.at(-1)}`;
  }

  // npm installs the adapters' hosts as peers; the README snippets also use @langchain/classic and llamaindex.
  const app = join(work, 'app');
  mkdirSync(app);
  writeFileSync(
    join(app, 'package.json'),
    JSON.stringify({ name: 'evomem-pack-check', private: true, type: 'module', dependencies: { ...dependencies, '@langchain/classic': '^1.0.50', llamaindex: '^0.12.1' } }, null, 2),
  );
  sh('npm', ['install', '--no-audit', '--no-fund', '--loglevel=error'], { cwd: app, env: { ...process.env, ONNXRUNTIME_NODE_INSTALL: 'skip' } });
  console.log(`installed (${seconds()})`);

  const node = (file, source, cwd = app) => {
    writeFileSync(join(app, file), source);
    return sh(process.execPath, [join(app, file)], { cwd, env: { ...process.env, EVOMEM_OFFLINE: '1', MEM0_TELEMETRY: 'false' } });
  };

  const esm = node('esm.mjs', `import { Encoder } from '@evomem/core';
const encoder = await Encoder.load();
const [v] = await encoder.embedDocuments(['Maya: I signed up for the pottery class.']);
console.log(encoder.device, v.length, Math.hypot(...v).toFixed(4));
`);
  check('ESM import + embed on the default model', esm.trim() === 'cpu 512 1.0000', esm);
  // A CPU-only install must run quietly: no CUDA attempt, no fallback warning.
  check('ESM run without warnings', sh.stderr === '', sh.stderr);

  const cjs = node('require.cjs', `const names = {
  '@evomem/core': 'Encoder',
  '@evomem/model-use-lite': 'modelPath',
  '@evomem/langchain': 'EvomemEmbeddings',
  '@evomem/llamaindex': 'EvomemEmbedding',
  '@evomem/mem0': 'EvomemMemory',
};
for (const [pkg, name] of Object.entries(names)) if (!require(pkg)[name]) throw new Error(pkg + ' has no ' + name);
console.log('required', Object.keys(names).length);
`);
  check('CommonJS require of every package', cjs.trim() === 'required 5', cjs);

  const help = sh(join(app, 'node_modules', '.bin', 'evomem'), ['--help'], { cwd: app });
  check('evomem --help', /Usage: evomem/.test(help) && /\beval\b/.test(help), help);

  copyFileSync(join(root, 'data', 'sample-conversation.json'), join(app, 'sample-conversation.json'));
  const evalArgs = ['eval', '--data', 'sample-conversation.json', '--retriever', 'hybrid', '--json', 'report.json'];
  const evaluation = sh(join(app, 'node_modules', '.bin', 'evomem'), evalArgs, {
    cwd: app,
    env: { ...process.env, EVOMEM_OFFLINE: '1' },
  });
  const report = JSON.parse(readFileSync(join(app, 'report.json'), 'utf8'));
  check('evomem eval --retriever hybrid on the sample conversation', report.questions > 0 && report.metrics['recall@5'] > 0, evaluation);

  // The READMEs' complete programs, each in a folder of its own with the files they read.
  // Those that name a hub model need the network; test/src/readmeSnippets.test.ts runs them
  // on a tiny model instead.
  const snippets = ['README.md', ...publishable.map(({ dir }) => join(dir, 'README.md'))].flatMap((file) =>
    [...readFileSync(resolve(root, file), 'utf8').matchAll(/<!-- snippet: run -->\s*```(?:ts|js)\n([\s\S]*?)```/g)].map((m, i) => ({
      name: `${file.replace(root, '')} run snippet ${i + 1}`,
      code: m[1],
    })),
  );
  check('the LangChain swap is a run snippet', snippets.some((s) => s.code.includes('MemoryVectorStore.fromDocuments')), 'not found');
  const memoryLog = node('memory-log.mjs', `import { appendMemoryLog } from '@evomem/core';
import { readFileSync } from 'node:fs';
const [{ conversation, qa }] = JSON.parse(readFileSync('sample-conversation.json', 'utf8'));
const turns = new Map(Object.entries(conversation).filter(([k]) => /^session_\\d+$/.test(k)).flatMap(([, s]) => s).map((t) => [t.dia_id, t]));
for (const { answer, evidence } of qa) {
  const source = evidence.map((id) => turns.get(id)).map(({ speaker, text }) => ({ speaker, text }));
  await appendMemoryLog('memories.jsonl', { user: 'maya', time: '2025-08-14T18:10:00Z', turns: source, memories: [{ text: answer }] });
}
console.log(qa.length);
`);
  check('a memory log for the snippets', Number(memoryLog) > 0, memoryLog);
  snippets.forEach(({ name, code }, i) => {
    const options = { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022, removeComments: true };
    const js = ts.transpileModule(code, { compilerOptions: options }).outputText;
    if (/model:\s*'[\w.-]+\/[\w.-]+'/.test(js)) return console.log(`skip ${name} (loads a hub model)`);
    const dir = join(app, 'snippets', String(i));
    mkdirSync(dir, { recursive: true });
    copyFileSync(join(app, 'sample-conversation.json'), join(dir, 'locomo10.json'));
    copyFileSync(join(app, 'memories.jsonl'), join(dir, 'memories.jsonl'));
    const printed = node(join('snippets', String(i), 'snippet.mjs'), js, dir);
    const expected = [...code.matchAll(/console\.log\(.*\);\s*\/\/\s*(.+)$/gm)].map((m) => m[1].trim());
    check(name, expected.every((text) => printed.includes(text)), `expected ${JSON.stringify(expected)}, printed ${printed}`);
  });

  console.log(`pack-check passed in ${seconds()}${keep ? `; project kept at ${app}` : ''}`);
} finally {
  if (!keep) rmSync(work, { recursive: true, force: true });
}
