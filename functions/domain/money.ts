/** Number of decimals of an ISO 4217 currency (USD 2, JPY 0, KWD 3), as ICU knows it. */
export const currencyExponent = (currency: string): number =>
  new Intl.NumberFormat('en', { style: 'currency', currency }).resolvedOptions()
    .maximumFractionDigits ?? 2;

/** True when `code` is an ISO 4217 currency code that the runtime knows. */
export const isCurrency = (code: string): boolean =>
  /^[A-Z]{3}$/.test(code) && Intl.supportedValuesOf('currency').includes(code);

/**
 * Prints an amount in minor units as a plain decimal string in the currency's own precision:
 * 120 USD → "1.20", 120 JPY → "120", 1205 KWD → "1.205". Integer arithmetic only.
 */
export const formatMinorUnits = (amountMinor: number, currency: string): string => {
  if (!Number.isSafeInteger(amountMinor) || amountMinor < 0) {
    throw new RangeError(`amount must be a non-negative safe integer, got ${amountMinor}`);
  }
  const exponent = currencyExponent(currency);
  if (exponent === 0) return String(amountMinor);
  const digits = String(amountMinor).padStart(exponent + 1, '0');
  return `${digits.slice(0, -exponent)}.${digits.slice(-exponent)}`;
};
