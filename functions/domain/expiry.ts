/** The expiry presets of bulk_generate_access_codes. */
export const EXPIRY_PRESETS = ['no_expiry', '1_day', '1_week', '1_month', '1_year', 'custom'] as const;
/** An expiry preset. */
export type ExpiryPreset = (typeof EXPIRY_PRESETS)[number];

/** Units of a custom expiry. */
export const CUSTOM_EXPIRY_TYPES = ['days', 'weeks', 'months', 'years'] as const;
/** A custom expiry unit. */
export type CustomExpiryType = (typeof CUSTOM_EXPIRY_TYPES)[number];

/** Largest custom amount per unit: ten years whichever unit is used. */
export const MAX_CUSTOM_EXPIRY: Record<CustomExpiryType, number> = { days: 3650, weeks: 520, months: 120, years: 10 };

/** An expiry as requested. */
export type ExpiryRequest =
  | { preset: Exclude<ExpiryPreset, 'custom'> }
  | { preset: 'custom'; amount: number; unit: CustomExpiryType };

const DAY_MS = 86_400_000;

/** Adds calendar months in UTC, clamping to the month's last day (31 Jan + 1 month = 28/29 Feb). */
export const addUtcMonths = (from: Date, months: number): Date => {
  const year = from.getUTCFullYear();
  const month = from.getUTCMonth() + months;
  const lastDay = new Date(Date.UTC(year, month + 1, 0)).getUTCDate();
  return new Date(
    Date.UTC(year, month, Math.min(from.getUTCDate(), lastDay), from.getUTCHours(), from.getUTCMinutes(), from.getUTCSeconds(), from.getUTCMilliseconds()),
  );
};

/** When codes requested at `now` expire, or null for never. Computed once per batch. */
export const expiryInstant = (request: ExpiryRequest, now: Date): Date | null => {
  switch (request.preset) {
    case 'no_expiry':
      return null;
    case '1_day':
      return new Date(now.getTime() + DAY_MS);
    case '1_week':
      return new Date(now.getTime() + 7 * DAY_MS);
    case '1_month':
      return addUtcMonths(now, 1);
    case '1_year':
      return addUtcMonths(now, 12);
    case 'custom':
      switch (request.unit) {
        case 'days':
          return new Date(now.getTime() + request.amount * DAY_MS);
        case 'weeks':
          return new Date(now.getTime() + request.amount * 7 * DAY_MS);
        case 'months':
          return addUtcMonths(now, request.amount);
        case 'years':
          return addUtcMonths(now, request.amount * 12);
      }
  }
};
