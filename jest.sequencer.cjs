// Jest runs the longest files first: by their last duration, or, on a cold cache (as in CI), by
// the seconds test/durations.json records for it (a fresh-clone run's figures for the files over
// 5 s; refresh it when a file's weight changes much), then by file size. A long file that starts
// last is the run's tail: redemption-at-scale (small, slow) started 74th of 74 by size alone.
// test/infrastructure/templates.test.ts is a few lines importing the template suites
// (`*.suite.ts`), the longest work of all: its size here is its own plus the suites'.
const { readFileSync, statSync } = require('node:fs');
const path = require('node:path');
const Sequencer = require('@jest/test-sequencer').default;

const SUITE_IMPORT = /^import '(\.\/[^']+\.suite)';$/gm;

/** Seconds per test file, relative to the repository root, from test/durations.json. */
const RECORDED = (() => {
  try {
    return JSON.parse(readFileSync(path.join(__dirname, 'test', 'durations.json'), 'utf8'));
  } catch {
    return {};
  }
})();
const recorded = (file) => RECORDED[path.relative(__dirname, file).split(path.sep).join('/')];

/** A test file's size plus the sizes of the `*.suite.ts` files it imports. */
const sizeWithSuites = (file) => {
  const text = readFileSync(file, 'utf8');
  const suites = [...text.matchAll(SUITE_IMPORT)].map((match) => path.resolve(path.dirname(file), `${match[1]}.ts`));
  return suites.reduce((total, suite) => total + statSync(suite).size, Buffer.byteLength(text));
};

/** Jest's default order, with a test file's size counting the suites it imports. */
class SuiteAwareSequencer extends Sequencer {
  sort(tests) {
    const sizes = new Map();
    const size = (test) => sizes.get(test.path) ?? sizes.set(test.path, sizeWithSuites(test.path)).get(test.path);
    // Jest's own timings of the last run on this machine; on a cold cache (none at all), the
    // recorded seconds, and files without either after them, by size.
    const warm = tests.some((test) => this.time(test) != null);
    for (const test of tests) {
      const seconds = recorded(test.path);
      test.duration = warm ? this.time(test) : seconds === undefined ? undefined : seconds * 1000;
    }
    return tests.sort((a, b) => {
      const failedA = this.hasFailed(a);
      if (failedA !== this.hasFailed(b)) return failedA ? -1 : 1;
      const timedA = a.duration != null;
      // Warm, as Jest does: a file without a duration (new or changed) runs before the timed ones.
      // Cold: the recorded files first, the rest by size.
      if (timedA !== (b.duration != null)) return timedA === warm ? 1 : -1;
      if (timedA) return a.duration < b.duration ? 1 : -1;
      return size(a) < size(b) ? 1 : -1;
    });
  }
}

module.exports = SuiteAwareSequencer;
