import { defineConfig } from 'vitest/config';

// forks, not threads: the Temporal worker's native bridge crashes the threads pool once a
// second file bundles workflow code.
export default defineConfig({
  test: {
    pool: 'forks',
    include: ['test/**/*.test.ts'],
    globalSetup: ['./test/setup/global-setup.ts'],
    testTimeout: 120_000,
    hookTimeout: 180_000,
    fileParallelism: true,
    poolOptions: { forks: { maxForks: 2, minForks: 1 } },
  },
});
