import { chmodSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CURSOR_KEY_BYTES, randomCursorKey } from '../functions/adapters/crypto/aes-gcm-cursor-codec';

/** Where the local stack keeps the key its listing cursors are sealed with. */
export const cursorKeyPath = (dataDir: string): string => join(dataDir, 'cursor-key');

/**
 * The local stack's cursor key: 32 random bytes in `<data dir>/cursor-key` (mode 0600), made
 * on first start and kept, so cursors stay valid across restarts like in AWS.
 */
export const localCursorKey = (dataDir: string): Buffer => {
  const path = cursorKeyPath(dataDir);
  try {
    // 'wx': only the first start writes it; two starting at once agree on the winner's key.
    writeFileSync(path, randomCursorKey(), { flag: 'wx', mode: 0o600 });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
  }
  chmodSync(path, 0o600);
  const key = readFileSync(path);
  if (key.length !== CURSOR_KEY_BYTES) throw new Error(`${path} is not a ${CURSOR_KEY_BYTES}-byte cursor key: delete it to make a new one`);
  return key;
};
