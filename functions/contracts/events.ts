import * as v from 'valibot';

/** The api_version every event envelope carries. */
export const EVENT_API_VERSION = '2026-05-01';

/** The EventBridge `source` of the service's events. */
export const EVENT_SOURCE = 'memberpass.access-codes';

/** Types of the access_code.* events. */
export type AccessCodeEventType = 'access_code.generated' | 'access_code.redeemed' | 'access_code.expired';

/** `data` of access_code.generated: the batch, never its codes. */
export interface AccessCodeGeneratedData {
  batch_id: string;
  plan_id: string;
  count: number;
  /** ISO instant, or null for codes that never expire. */
  expires_at: string | null;
}

/** `data` of access_code.redeemed. */
export interface AccessCodeRedeemedData {
  subscription_id: string;
  plan_id: string;
  subscriber_id: string;
  /** `masked_` + the code's last five characters. */
  access_code: string;
}

/** The published envelope of every event (spec: access_code_events.md). */
export interface EventEnvelope<T = unknown> {
  id: string;
  type: AccessCodeEventType;
  created_at: string;
  api_version: typeof EVENT_API_VERSION;
  project_id: string;
  data: T;
}

/** Every event type the service publishes. */
export const ACCESS_CODE_EVENT_TYPES = ['access_code.generated', 'access_code.redeemed', 'access_code.expired'] as const satisfies readonly AccessCodeEventType[];

/**
 * The envelope's schema, version `EVENT_API_VERSION`: the relay checks every outbox event
 * with it, and consumers (tests, webhooks) may too. Loose, so that a field added to the
 * envelope later is relayed rather than stripped.
 */
export const EventEnvelopeSchema = v.looseObject({
  id: v.pipe(v.string(), v.startsWith('evt_')),
  type: v.picklist(ACCESS_CODE_EVENT_TYPES),
  created_at: v.pipe(v.string(), v.isoTimestamp()),
  api_version: v.literal(EVENT_API_VERSION),
  project_id: v.string(),
  data: v.record(v.string(), v.unknown()),
});

/** `value` checked against the envelope's schema: the envelope, or what is wrong with it (`path: message; …`). */
export const parseEventEnvelope = (value: unknown): { envelope: EventEnvelope } | { problems: string } => {
  const parsed = v.safeParse(EventEnvelopeSchema, value);
  if (parsed.success) return { envelope: parsed.output as EventEnvelope };
  return { problems: parsed.issues.map((issue) => `${v.getDotPath(issue) ?? 'event'}: ${issue.message}`).join('; ') };
};
