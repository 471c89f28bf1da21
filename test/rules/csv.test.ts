import { toCsv } from '../../functions/domain/csv';

describe('toCsv', () => {
  test('writes a header and CRLF-terminated rows', () => {
    expect(toCsv(['code', 'plan_id'], [['7KQ2-9XMD-4TRV', 'pln_1']])).toBe('code,plan_id\r\n7KQ2-9XMD-4TRV,pln_1\r\n');
  });

  test('quotes fields with commas, quotes and line breaks', () => {
    expect(toCsv(['a'], [['x,"y"\nz']])).toBe('a\r\n"x,""y""\nz"\r\n');
  });

  test('defuses spreadsheet formulas', () => {
    expect(toCsv(['a'], [['=HYPERLINK("x")']])).toBe('a\r\n"\'=HYPERLINK(""x"")"\r\n');
  });
});
