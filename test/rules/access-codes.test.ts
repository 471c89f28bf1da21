import { createHmac } from 'node:crypto';
import { TokenBucket } from '../../functions/use-cases/generation/generate-chunk';
import { canonicalCode, CODE_ALPHABET, CODE_LENGTH, derivedCode, displayCode, maskCode, newCodeSeed, randomCode } from '../../functions/domain/access-codes';

describe('access codes', () => {
  test('are 12 Crockford base32 symbols: 60 bits of entropy', () => {
    expect(CODE_ALPHABET).toHaveLength(32);
    expect(CODE_ALPHABET).not.toMatch(/[ILOU]/);
    for (let i = 0; i < 200; i++) expect(randomCode()).toMatch(/^[0-9A-HJKMNP-TV-Z]{12}$/);
    expect(CODE_LENGTH * Math.log2(CODE_ALPHABET.length)).toBeGreaterThanOrEqual(60);
  });

  test('use every symbol of the alphabet, about evenly', () => {
    const counts = new Map<string, number>();
    for (let i = 0; i < 2000; i++) for (const symbol of randomCode()) counts.set(symbol, (counts.get(symbol) ?? 0) + 1);
    expect(counts.size).toBe(32);
    // 24,000 symbols: 750 expected each; a biased generator falls far outside this band.
    for (const count of counts.values()) expect(count).toBeGreaterThan(600);
  });

  test('do not repeat in a large sample', () => {
    const sample = new Set(Array.from({ length: 20_000 }, randomCode));
    expect(sample.size).toBe(20_000);
  });

  test("derived: the same seed, slot and attempt give the same code; any other input another, in the same alphabet", () => {
    const seed = newCodeSeed();
    expect(derivedCode(seed, 7, 0)).toBe(derivedCode(Buffer.from(seed), 7, 0));
    const codes = new Set<string>();
    for (let slot = 0; slot < 2000; slot++) for (const attempt of [0, 1]) codes.add(derivedCode(seed, slot, attempt));
    codes.add(derivedCode(newCodeSeed(), 7, 0));
    expect(codes.size).toBe(4001);
    for (const code of codes) expect(code).toMatch(/^[0-9A-HJKMNP-TV-Z]{12}$/);
  });

  test('derived: HMAC-SHA256 of "slot:attempt" under the seed, 5 bits of each of its first 12 bytes (no code follows from another without the seed)', () => {
    const seed = Buffer.alloc(32, 7);
    const digest = createHmac('sha256', seed).update('41:2').digest();
    expect(derivedCode(seed, 41, 2)).toBe(Array.from(digest.subarray(0, 12), (byte) => CODE_ALPHABET[byte & 31]).join(''));
  });

  test('are shown in groups of four', () => {
    expect(displayCode('7KQ29XMD4TRV')).toBe('7KQ2-9XMD-4TRV');
  });

  test.each([
    ['7KQ2-9XMD-4TRV', '7KQ29XMD4TRV'],
    ['7kq2 9xmd 4trv', '7KQ29XMD4TRV'],
    ['7KQ2_9XMD.4TRV', '7KQ29XMD4TRV'],
    ['OIL0-0000-0000', '011000000000'],
  ])('are matched case- and separator-insensitively: %s', (typed, canonical) => {
    expect(canonicalCode(typed)).toBe(canonical);
  });

  test.each(['', '7KQ2-9XMD-4TR', '7KQ2-9XMD-4TRVX', '7KQ2-9XMD-4TRU', '7KQ2-9XMD-4TR!'])('refuse what cannot be a code: %p', (typed) => {
    expect(canonicalCode(typed)).toBeUndefined();
  });

  test('are masked to their last five symbols in events', () => {
    expect(maskCode('7KQ29XMD4TRV')).toBe('masked_D4TRV');
  });
});

describe("the generator's pace (TokenBucket)", () => {
  test('lets a burst through at once, then holds callers at the rate, in order, however many ask at once', async () => {
    let now = 0;
    const slept: number[] = [];
    const bucket = new TokenBucket(100, 10, () => now, async (ms) => {
      slept.push(ms);
      now += ms;
    });
    const order: number[] = [];
    await Promise.all(Array.from({ length: 60 }, (_, i) => bucket.take(1).then(() => order.push(i))));
    expect(order).toEqual(Array.from({ length: 60 }, (_, i) => i));
    // 10 at once, the other 50 at 100 a second: 500 ms of (simulated) waiting, no more.
    expect(now).toBeCloseTo(500, 6);
    expect(slept).toHaveLength(50);
  });
});
