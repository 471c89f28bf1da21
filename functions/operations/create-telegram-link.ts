import * as v from 'valibot';
import { createTelegramLink } from '../use-cases/telegram-link';
import { resourceId } from './fields';
import { defineOperation } from './operation';
import { TelegramLinkOutput } from './outputs';

/** create_telegram_link: `POST /v1/telegram/link`. */
export const createTelegramLinkOperation = defineOperation({
  kind: 'tool',
  name: 'create_telegram_link',
  description:
    "Start linking the creator's Telegram chat to a project: returns a one-time t.me deep link (valid 15 minutes) that the creator opens and presses Start on. Codes are delivered only to a linked chat.",
  abilities: ['project-access-code:create'],
  input: v.strictObject({ project_id: v.pipe(resourceId('project_id'), v.description('The project whose creator chat to link.')) }),
  output: TelegramLinkOutput,
  // Makes a link; nothing is sent to Telegram until the creator opens it.
  annotations: { readOnlyHint: false, idempotentHint: false, destructiveHint: false, openWorldHint: false },
  http: { method: 'POST', path: '/v1/telegram/link', successStatus: 200, pathParams: [], queryParams: [], headers: {} },
  needs: { table: 'readWrite', botUsername: true },
  run: (deps, principal, input) => createTelegramLink({ ...deps, links: deps.accounts }, principal, input),
});
