import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['src/**/*.test.ts'],
    testTimeout: 120_000,
    // Mem0 reads this once at import; its telemetry would call out of an offline machine.
    env: { MEM0_TELEMETRY: 'false' },
  },
});
