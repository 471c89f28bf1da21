import * as v from 'valibot';
import { listAccessCodes } from '../use-cases/jobs-and-codes';
import { boundedInteger, oneOf, resourceId } from './fields';
import { defineOperation } from './operation';
import { ListAccessCodesOutput } from './outputs';

/** Largest page of list_access_codes. */
export const MAX_PAGE_SIZE = 500;

/** list_access_codes: `GET /v1/plans/{plan_id}/access-codes`. */
export const listAccessCodesOperation = defineOperation({
  kind: 'tool',
  name: 'list_access_codes',
  description:
    "A page of a plan's access codes in full, optionally filtered by status (active, redeemed, expired) or by the job that generated them. Pass next_cursor back as cursor for the next page; it is null on the last one.",
  abilities: ['project-access-code:view-any'],
  input: v.strictObject({
    plan_id: v.pipe(resourceId('plan_id'), v.description('The plan whose codes to list.')),
    status: v.optional(v.pipe(oneOf('status', ['active', 'redeemed', 'expired'] as const), v.description('Only codes in this status.'))),
    job_id: v.optional(v.pipe(resourceId('job_id'), v.description('Only the codes of this bulk generation job.'))),
    cursor: v.optional(
      v.pipe(v.string('cursor is not one this listing returned'), v.maxLength(2048, 'cursor is not one this listing returned'), v.description('next_cursor of the previous page.')),
    ),
    limit: v.optional(v.pipe(boundedInteger('limit', 1, MAX_PAGE_SIZE), v.description(`Page size (1-${MAX_PAGE_SIZE}).`)), 100),
  }),
  output: ListAccessCodesOutput,
  annotations: { readOnlyHint: true, idempotentHint: true, destructiveHint: false, openWorldHint: false },
  http: {
    method: 'GET',
    path: '/v1/plans/{plan_id}/access-codes',
    successStatus: 200,
    pathParams: ['plan_id'],
    queryParams: ['status', 'job_id', 'cursor', 'limit'],
    headers: {},
  },
  needs: { table: 'read', cursorKey: true },
  run: (deps, principal, input) =>
    listAccessCodes(deps, principal, {
      planId: input.plan_id,
      limit: input.limit,
      ...(input.status ? { status: input.status } : {}),
      ...(input.job_id ? { jobId: input.job_id } : {}),
      ...(input.cursor ? { cursor: input.cursor } : {}),
    }),
});
