// Jest runs the longest files first: by their last duration, or, on a cold cache (as in CI), by
// file size. test/infrastructure/templates.test.ts is a few lines importing the template suites
// (`*.suite.ts`), the longest work of all: its size here is its own plus the suites'.
const { readFileSync, statSync } = require('node:fs');
const path = require('node:path');
const Sequencer = require('@jest/test-sequencer').default;

const SUITE_IMPORT = /^import '(\.\/[^']+\.suite)';$/gm;

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
    for (const test of tests) test.duration = this.time(test);
    return tests.sort((a, b) => {
      const failedA = this.hasFailed(a);
      if (failedA !== this.hasFailed(b)) return failedA ? -1 : 1;
      const timedA = a.duration != null;
      // As Jest does: a file without a duration (new or changed) runs before the timed ones.
      if (timedA !== (b.duration != null)) return timedA ? 1 : -1;
      if (timedA) return a.duration < b.duration ? 1 : -1;
      return size(a) < size(b) ? 1 : -1;
    });
  }
}

module.exports = SuiteAwareSequencer;
