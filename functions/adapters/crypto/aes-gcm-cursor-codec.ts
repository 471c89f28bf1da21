import { createHash, createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import type { CursorCodec } from '../../domain/ports';

const IV_BYTES = 12;
const TAG_BYTES = 16;
/** A key is 32 bytes (AES-256). */
export const CURSOR_KEY_BYTES = 32;

/** A key, or where to get it once (e.g. a secret read on first use rather than at cold start). */
export type CursorKeySource = Buffer | (() => Promise<Buffer>);

/**
 * Cursors as AES-256-GCM over the position's JSON, with the listing's context (plan and
 * filters) as associated data, base64url(iv ‖ ciphertext ‖ tag). Anything that does not
 * authenticate under the same context — tampered, truncated, hand-made, or issued for another
 * listing — opens to undefined. The position is encrypted, not only signed, so that what a
 * cursor points at stays the service's business.
 */
export class AesGcmCursorCodec implements CursorCodec {
  private key: Promise<Buffer> | undefined;

  constructor(private readonly source: CursorKeySource) {}

  private async keyBytes(): Promise<Buffer> {
    this.key ??= (async () => {
      const key = Buffer.isBuffer(this.source) ? this.source : await this.source();
      if (key.length !== CURSOR_KEY_BYTES) throw new Error(`a cursor key is ${CURSOR_KEY_BYTES} bytes, not ${key.length}`);
      return key;
    })();
    // A failed read is not cached: the next request tries again.
    return this.key.catch((error: unknown) => {
      this.key = undefined;
      throw error;
    });
  }

  async seal(position: unknown, context: string): Promise<string> {
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', await this.keyBytes(), iv);
    cipher.setAAD(Buffer.from(context, 'utf8'));
    const body = Buffer.concat([cipher.update(JSON.stringify(position), 'utf8'), cipher.final()]);
    return Buffer.concat([iv, body, cipher.getAuthTag()]).toString('base64url');
  }

  async open(cursor: string, context: string): Promise<unknown> {
    const key = await this.keyBytes();
    if (!/^[A-Za-z0-9_-]+$/.test(cursor)) return undefined;
    const bytes = Buffer.from(cursor, 'base64url');
    // Canonical base64url only, so that one cursor has one spelling.
    if (bytes.length <= IV_BYTES + TAG_BYTES || bytes.toString('base64url') !== cursor) return undefined;
    try {
      const decipher = createDecipheriv('aes-256-gcm', key, bytes.subarray(0, IV_BYTES), { authTagLength: TAG_BYTES });
      decipher.setAAD(Buffer.from(context, 'utf8'));
      decipher.setAuthTag(bytes.subarray(bytes.length - TAG_BYTES));
      const plain = Buffer.concat([decipher.update(bytes.subarray(IV_BYTES, bytes.length - TAG_BYTES)), decipher.final()]);
      return JSON.parse(plain.toString('utf8'));
    } catch {
      return undefined;
    }
  }
}

/**
 * The key derived from a generated secret (CDK generates 64 letters and digits, about 380 bits):
 * its SHA-256, so any secret string of enough entropy makes a valid AES-256 key.
 */
export const cursorKeyFromSecret = (text: string): Buffer => createHash('sha256').update(text.trim(), 'utf8').digest();

/** A fresh random key (tests; the local stack's first start). */
export const randomCursorKey = (): Buffer => randomBytes(CURSOR_KEY_BYTES);
