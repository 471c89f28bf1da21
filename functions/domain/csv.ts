/** Quotes a CSV field when it must be (RFC 4180), and defuses spreadsheet formulas. */
const field = (value: string): string => {
  const safe = /^[=+\-@\t\r]/.test(value) ? `'${value}` : value;
  return /[",\r\n]/.test(safe) ? `"${safe.replace(/"/g, '""')}"` : safe;
};

/** An RFC 4180 CSV document (CRLF line ends) with a header row. */
export const toCsv = (header: readonly string[], rows: ReadonlyArray<readonly string[]>): string =>
  [header, ...rows].map((row) => row.map(field).join(',')).join('\r\n') + '\r\n';
