import { execFile } from 'node:child_process';
import { resolve } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { repoRoot } from './shared.js';

// The packages are ESM. CommonJS users load them through Node's require(esm) (Node 20.19+,
// 22.12+), which needs a `default` (or `require`) condition in the exports map and no
// top-level await in the module graph.
const run = promisify(execFile);
const MAIN_EXPORT: Record<string, string> = {
  '@evomem/core': 'Encoder',
  '@evomem/model-use-lite': 'modelPath',
  '@evomem/langchain': 'EvomemEmbeddings',
  '@evomem/llamaindex': 'EvomemEmbedding',
  '@evomem/mem0': 'EvomemMemory',
};

describe('require() from CommonJS', () => {
  for (const [pkg, name] of Object.entries(MAIN_EXPORT)) {
    it(`require('${pkg}').${name}`, async () => {
      const script = `const m = require(${JSON.stringify(pkg)}); process.stdout.write(typeof m[${JSON.stringify(name)}]);`;
      const { stdout, stderr } = await run(process.execPath, ['--input-type=commonjs', '-e', script], {
        cwd: resolve(repoRoot, 'test'),
        env: { ...process.env, MEM0_TELEMETRY: 'false' },
      });
      expect(stdout).toBe(name === 'modelPath' ? 'string' : 'function');
      // Node 22.12 alone still calls require(esm) experimental on stderr; errors never belong there.
      expect(stderr).not.toMatch(/Error/);
    });
  }
});
