import { packInOrder } from '../../functions/adapters/batching';

describe('packInOrder', () => {
  test('closes a batch at the item limit', () => {
    expect(packInOrder([1, 2, 3, 4, 5], 2, 100, () => 1)).toEqual([[1, 2], [3, 4], [5]]);
  });

  test('closes a batch before the byte limit would be passed, keeping order', () => {
    expect(packInOrder([4, 4, 2, 5, 1], 10, 8, (n) => n)).toEqual([[4, 4], [2, 5, 1]]);
  });

  test('puts an oversized item in a batch of its own, never an empty batch', () => {
    expect(packInOrder([9, 1], 10, 8, (n) => n)).toEqual([[9], [1]]);
    expect(packInOrder([], 10, 8, (n: number) => n)).toEqual([]);
  });
});
