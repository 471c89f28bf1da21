import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cursorKeyPath, localCursorKey } from '../../local/cursor-key';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'memberpass-cursor-key-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('the local stack’s cursor key', () => {
  test('is 32 random bytes made on first start, readable by its owner only, and kept across starts', () => {
    const first = localCursorKey(dir);
    expect(first).toHaveLength(32);
    expect(statSync(cursorKeyPath(dir)).mode & 0o777).toBe(0o600);
    expect(localCursorKey(dir).equals(first)).toBe(true);
    expect(readFileSync(cursorKeyPath(dir)).equals(first)).toBe(true);
    const other = mkdtempSync(join(tmpdir(), 'memberpass-cursor-key-'));
    try {
      expect(localCursorKey(other).equals(first)).toBe(false);
    } finally {
      rmSync(other, { recursive: true, force: true });
    }
  });

  test('a key file of the wrong size stops the start with a message naming it', () => {
    writeFileSync(cursorKeyPath(dir), 'short', { mode: 0o644 });
    expect(() => localCursorKey(dir)).toThrow(cursorKeyPath(dir));
  });
});
