import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // The Chromium tests have their own config and command (npm run test:browser).
    exclude: ['test/browser/**', 'node_modules/**'],
    // Full-size VGGs (500+ MB of weights each) are compiled and run in some tests.
    testTimeout: 300_000,
    hookTimeout: 300_000,
    pool: 'forks',
    maxWorkers: 2,
  },
});
