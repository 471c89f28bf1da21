import * as v from 'valibot';
import type { AccountReader, Clock, CodeStore, CursorCodec } from '../../domain/ports';
import { httpRoute } from '../../adapters/http/http-api';
import { parseWith, resourceId } from '../../adapters/http/validation';
import { listAccessCodes } from '../../use-cases/jobs-and-codes';

/** Largest page of list_access_codes. */
export const MAX_PAGE_SIZE = 500;

/** Query string of list_access_codes: every value arrives as a string. */
export const ListAccessCodesQuery = v.object({
  status: v.optional(v.picklist(['active', 'redeemed', 'expired'], 'status must be one of active, redeemed, expired.')),
  job_id: v.optional(resourceId('job_id')),
  cursor: v.optional(v.pipe(v.string(), v.maxLength(2048, 'cursor is not one this listing returned'))),
  limit: v.optional(
    v.pipe(
      v.string(),
      v.regex(/^\d{1,4}$/, `limit must be an integer from 1 to ${MAX_PAGE_SIZE}.`),
      v.transform(Number),
      v.minValue(1, `limit must be an integer from 1 to ${MAX_PAGE_SIZE}.`),
      v.maxValue(MAX_PAGE_SIZE, `limit must be an integer from 1 to ${MAX_PAGE_SIZE}.`),
    ),
    '100',
  ),
});

/** list_access_codes over HTTP: `GET /v1/plans/{plan_id}/access-codes`. */
export const makeHandler = (deps: { accounts: AccountReader; codes: CodeStore; cursors: CursorCodec; clock: Clock }) =>
  httpRoute(deps, {
    abilities: ['project-access-code:view-any'],
    run: ({ principal, event }) => {
      const { plan_id } = parseWith(v.object({ plan_id: resourceId('plan_id') }), event.pathParameters ?? {});
      const query = parseWith(ListAccessCodesQuery, event.queryStringParameters ?? {});
      return listAccessCodes(deps, principal, {
        planId: plan_id,
        limit: query.limit,
        ...(query.status ? { status: query.status } : {}),
        ...(query.job_id ? { jobId: query.job_id } : {}),
        ...(query.cursor ? { cursor: query.cursor } : {}),
      });
    },
  });
