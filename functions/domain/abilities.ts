/** Every ability a token can carry. */
export const ABILITIES = [
  'project-access-code:create',
  'project-access-code:view-any',
  'project-access-code:redeem',
] as const;

/** An ability a token can carry. */
export type Ability = (typeof ABILITIES)[number];

/** True when `value` names a known ability. */
export const isAbility = (value: string): value is Ability =>
  (ABILITIES as readonly string[]).includes(value);
