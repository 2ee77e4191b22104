import { defineConfig } from 'tsup';

/** The build every publishable package shares: ESM for Node 20+, with types and source maps. */
export default defineConfig({
  entry: ['src/index.ts'],
  format: 'esm',
  platform: 'node',
  target: 'node20',
  dts: true,
  sourcemap: true,
  clean: true,
});
