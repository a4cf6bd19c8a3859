// `npm run test:browser`: the tests that run vggc in real browsers: Debian's chromium (playwright-core) and
// firefox-esr (puppeteer-core over WebDriver BiDi), each test in both.
// Kept out of `npm test`'s config so that their timing test does not compete with the other suites.
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    root: new URL('../..', import.meta.url).pathname,
    include: ['test/browser/**/*.test.ts'],
    testTimeout: 300_000,
    hookTimeout: 300_000,
    pool: 'forks',
    // One file at a time: the timing test needs the machine's cores to itself.
    fileParallelism: false,
  },
});
