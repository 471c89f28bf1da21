/**
 * Splits items, in order, into batches of at most `maxCount` items whose sizes add up to at
 * most `maxBytes`, as the AWS batch APIs require. An item larger than `maxBytes` alone makes a
 * batch of its own: callers refuse such items before packing.
 */
export const packInOrder = <T>(items: readonly T[], maxCount: number, maxBytes: number, sizeOf: (item: T) => number): T[][] => {
  const batches: T[][] = [];
  let current: T[] = [];
  let bytes = 0;
  for (const item of items) {
    const size = sizeOf(item);
    if (current.length === maxCount || (current.length > 0 && bytes + size > maxBytes)) {
      batches.push(current);
      current = [];
      bytes = 0;
    }
    current.push(item);
    bytes += size;
  }
  if (current.length > 0) batches.push(current);
  return batches;
};
