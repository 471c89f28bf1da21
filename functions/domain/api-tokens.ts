import { createHash, randomBytes } from 'node:crypto';

const TOKEN_PREFIX = 'mpk_';

/** A fresh bearer token: 256 random bits, shown once and never stored. */
export const generateApiToken = (): string => TOKEN_PREFIX + randomBytes(32).toString('base64url');

/**
 * The form a token is stored and looked up by. Tokens carry 256 random bits, so a fast hash is
 * enough: nothing can be learned by brute force from a leaked table.
 */
export const hashApiToken = (token: string): string => createHash('sha256').update(token).digest('hex');
