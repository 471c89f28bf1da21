import { randomBytes } from 'node:crypto';

/** Crockford's base32: no I, L, O or U, so codes survive being read aloud or retyped. */
export const CODE_ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';

/** Symbols in a code: 12 × 5 bits = 60 bits of entropy. */
export const CODE_LENGTH = 12;

/** Produces one canonical code (no separators). Injectable so tests can shrink the code space. */
export type CodeGenerator = () => string;

/**
 * A cryptographically random canonical code. Each random byte is reduced mod 32, which is
 * unbiased because 256 is a multiple of 32.
 */
export const randomCode: CodeGenerator = () => {
  const bytes = randomBytes(CODE_LENGTH);
  let code = '';
  for (const byte of bytes) code += CODE_ALPHABET[byte & 31];
  return code;
};

/** A canonical code as shown to people: `7KQ29XMD4TRV` → `7KQ2-9XMD-4TRV`. */
export const displayCode = (canonical: string): string => canonical.match(/.{1,4}/g)?.join('-') ?? canonical;

const DECODE: Record<string, string> = { O: '0', I: '1', L: '1' };

/**
 * The canonical form of a code as a person typed it: case-insensitive, separators (spaces,
 * hyphens, dots, underscores) ignored, and Crockford's look-alikes (O→0, I/L→1) read as meant.
 * Undefined when it cannot be a code.
 */
export const canonicalCode = (typed: string): string | undefined => {
  const compact = typed.toUpperCase().replace(/[\s\-_.]/g, '').replace(/[OIL]/g, (c) => DECODE[c] ?? c);
  if (compact.length !== CODE_LENGTH) return undefined;
  for (const symbol of compact) if (!CODE_ALPHABET.includes(symbol)) return undefined;
  return compact;
};

/** What events carry instead of a code: `masked_` and the last five symbols of its canonical form. */
export const maskCode = (canonical: string): string => `masked_${canonical.slice(-5)}`;
