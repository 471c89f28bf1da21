/** The billing period (calendar month, UTC) an instant falls in, as `YYYY-MM`. */
export const billingPeriodOf = (instant: Date): string => instant.toISOString().slice(0, 7);
