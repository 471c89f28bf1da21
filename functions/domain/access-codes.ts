import { createHmac, randomBytes } from 'node:crypto';

/** Crockford's base32: no I, L, O or U, so codes survive being read aloud or retyped. */
export const CODE_ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';

/** Symbols in a code: 12 × 5 bits = 60 bits of entropy. */
export const CODE_LENGTH = 12;

/**
 * Produces candidate `attempt` (0, 1, …) of the code of `slot`, from the job's secret seed, in
 * canonical form. Deterministic, so that every delivery of a chunk (redelivered, or running twice
 * at once) proposes the same code for a slot; injectable so tests can shrink the code space.
 */
export type CodeGenerator = (seed: Uint8Array, slot: number, attempt: number) => string;

/** Bytes of a job's code seed: a 256-bit HMAC key. */
export const CODE_SEED_BYTES = 32;

/** A fresh seed for a job's codes (kept with the job, never shown). */
export const newCodeSeed = (): Buffer => randomBytes(CODE_SEED_BYTES);

const symbols = (bytes: Uint8Array): string => {
  let code = '';
  for (let i = 0; i < CODE_LENGTH; i++) code += CODE_ALPHABET[bytes[i]! & 31];
  return code;
};

/**
 * The service's code: HMAC-SHA256(seed, "slot:attempt"), its first 12 bytes each reduced mod 32
 * (unbiased: 256 is a multiple of 32), 60 bits. Without the seed, no code tells anything about
 * another (HMAC is a pseudorandom function); with it, the job's codes can be derived again,
 * which is why the seed never leaves the service's table.
 */
export const derivedCode: CodeGenerator = (seed, slot, attempt) => symbols(createHmac('sha256', seed).update(`${slot}:${attempt}`).digest());

/** A cryptographically random canonical code (fixtures and benches; the generator derives its codes). */
export const randomCode = (): string => symbols(randomBytes(CODE_LENGTH));

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
