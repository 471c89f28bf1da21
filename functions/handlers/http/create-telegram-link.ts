import * as v from 'valibot';
import type { AccountReader, Clock, TelegramLinkStore } from '../../domain/ports';
import { httpRoute } from '../../adapters/http/http-api';
import { resourceId } from '../../adapters/http/validation';
import { createTelegramLink } from '../../use-cases/telegram-link';

/** Body of `POST /v1/telegram/link`. */
export const CreateTelegramLinkBody = v.object({ project_id: resourceId('project_id') });

/** Starts linking the creator's Telegram chat: answers a one-time `t.me` deep link. */
export const makeHandler = (deps: { accounts: AccountReader; links: TelegramLinkStore; clock: Clock; botUsername: string }) =>
  httpRoute(deps, {
    abilities: ['project-access-code:create'],
    body: CreateTelegramLinkBody,
    run: ({ principal, body }) => createTelegramLink(deps, principal, body),
  });
