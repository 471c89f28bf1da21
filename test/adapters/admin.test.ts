import { hashApiToken } from '../../functions/domain/api-tokens';
import { ResourceNotFoundError, ValidationFailedError } from '../../functions/domain/errors';
import { systemClock } from '../../functions/domain/ports';
import * as admin from '../../functions/use-cases/admin';
import { createTestTable, dynamoEndpoint, type TestTable } from '../support/dynamodb';
import { runScript } from '../support/processes';

let table: TestTable;
let deps: admin.AdminDeps;
beforeEach(async () => {
  table = await createTestTable();
  deps = { accounts: table.accounts, clock: systemClock };
});
afterEach(async () => table.drop());

describe('seedDemo', () => {
  test('creates the demo once: a second run returns the same ids and, given it, the same token', async () => {
    const first = await admin.seedDemo(deps);
    const itemsAfterFirst = (await table.scanAll()).length;
    const second = await admin.seedDemo(deps, { knownToken: first.token });

    expect(second).toEqual({ ...first, created: false });
    expect((await table.scanAll()).length).toBe(itemsAfterFirst);
    const project = await table.accounts.findProject(first.project_id);
    expect(project?.tier).toEqual({ freeAllotment: 10, unitPriceMinor: 3, currency: 'USD' });
    expect(project?.telegramChatId).toBe(admin.DEMO.telegramChatId);
    expect((await table.accounts.findTokenByHash(hashApiToken(first.token)))?.abilities).toEqual([
      'project-access-code:create',
      'project-access-code:view-any',
      'project-access-code:redeem',
    ]);
  });

  test('without the old token, mints a new one and retires the old', async () => {
    const first = await admin.seedDemo(deps);
    const second = await admin.seedDemo(deps);
    expect(second.plan_id).toBe(first.plan_id);
    expect(second.token).not.toBe(first.token);
    expect(await table.accounts.findTokenByHash(hashApiToken(first.token))).toBeUndefined();
    expect(await table.accounts.findTokenByHash(hashApiToken(second.token))).toBeDefined();
  });

  test('concurrent seeders agree on one demo', async () => {
    const seeds = await Promise.all([admin.seedDemo(deps), admin.seedDemo(deps), admin.seedDemo(deps)]);
    expect(new Set(seeds.map((s) => s.plan_id)).size).toBe(1);
    const teams = (await table.scanAll()).filter((item) => item.type === 'team');
    expect(teams).toHaveLength(1);
  });
});

describe('account administration', () => {
  test('refuses a project for a team that does not exist, writing nothing', async () => {
    await expect(
      admin.createProject(deps, { teamId: 'tea_missing', name: 'P', tier: { freeAllotment: 1, unitPriceMinor: 1, currency: 'USD' } }),
    ).rejects.toBeInstanceOf(ResourceNotFoundError);
    expect(await table.scanAll()).toEqual([]);
  });

  test('names every bad tier field', () => {
    try {
      admin.validateTier({ freeAllotment: -1, unitPriceMinor: 1.5, currency: 'dollars' });
      throw new Error('expected a ValidationFailedError');
    } catch (error) {
      expect(error).toBeInstanceOf(ValidationFailedError);
      expect((error as ValidationFailedError).details.map((d) => d.path)).toEqual(['free_allotment', 'unit_price', 'currency']);
    }
  });

  test('normalises the currency to upper case', () => {
    expect(admin.validateTier({ freeAllotment: 0, unitPriceMinor: 0, currency: 'eur' }).currency).toBe('EUR');
  });

  test('refuses unknown abilities', () => {
    expect(() => admin.parseAbilities('project-access-code:create,project:delete')).toThrow(ValidationFailedError);
    expect(admin.parseAbilities(' project-access-code:view-any ,project-access-code:view-any')).toEqual(['project-access-code:view-any']);
  });

  test('creates a plan under its project’s team', async () => {
    const { team_id } = await admin.createTeam(deps, { name: 'T' });
    const { project_id } = await admin.createProject(deps, {
      teamId: team_id,
      name: 'P',
      tier: { freeAllotment: 1, unitPriceMinor: 1, currency: 'USD' },
    });
    const plan = await admin.createPlan(deps, { projectId: project_id, name: 'Gold' });
    expect(await table.accounts.findPlan(plan.plan_id)).toMatchObject({ projectId: project_id, teamId: team_id, name: 'Gold' });
    await expect(admin.createPlan(deps, { projectId: 'prj_missing', name: 'X' })).rejects.toBeInstanceOf(ResourceNotFoundError);
  });

  test('refuses a chat id that is not a Telegram chat id', async () => {
    await expect(admin.linkTelegram(deps, { projectId: 'prj_x', chatId: '@someone' })).rejects.toBeInstanceOf(ValidationFailedError);
  });
});

describe('the admin CLI (bin/admin.ts) as a child process, on a table of DynamoDB Local', () => {
  /** `--table` with the SDK's own endpoint override: the CLI's deployed-table path, pointed at DynamoDB Local. */
  const cli = (...args: string[]) =>
    runScript('admin.ts', [...args, '--table', table.tableName], {
      AWS_ENDPOINT_URL_DYNAMODB: dynamoEndpoint(),
      AWS_REGION: 'local',
      AWS_ACCESS_KEY_ID: 'local',
      AWS_SECRET_ACCESS_KEY: 'local',
    });
  const STACK_TRACE = /^\s+at .+\(.+:\d+:\d+\)$/m;
  let projectId: string;
  beforeEach(async () => {
    const { team_id } = await admin.createTeam(deps, { name: 'T' });
    projectId = (await admin.createProject(deps, { teamId: team_id, name: 'P', tier: { freeAllotment: 3, unitPriceMinor: 2, currency: 'USD' } }))
      .project_id;
  });

  test.each([
    ['spaced', ['--chat-id', '-1001234567890']],
    ['joined with =', ['--chat-id=-1001234567890']],
  ])('links a group’s negative chat id given %s', async (_form, chatArgs) => {
    const run = await cli('link-telegram', '--project', projectId, ...chatArgs, '--json');
    expect(run.output).not.toMatch(STACK_TRACE);
    expect(run.code).toBe(0);
    expect(JSON.parse(run.output.trim().split('\n').pop()!)).toEqual({ project_id: projectId, telegram_chat_id: '-1001234567890' });
    expect((await table.accounts.findProject(projectId))?.telegramChatId).toBe('-1001234567890');
  });

  test.each([
    ['a negative free allotment', ['set-tier', '--free-allotment', '-5', '--unit-price', '1', '--currency', 'USD'], /--free-allotment must be a whole number/],
    ['a negative unit price', ['set-tier', '--free-allotment', '5', '--unit-price=-1', '--currency', 'USD'], /--unit-price must be a whole number/],
    ['an unknown option', ['set-tier', '--free-alotment', '5'], /Unknown option '--free-alotment'/],
    ['an option without its value', ['set-tier', '--free-allotment'], /--free-allotment/],
  ])('refuses %s with a usage error, exit code 2 and no stack trace, changing nothing', async (_what, args, message) => {
    const run = await cli(...args, '--project', projectId);
    expect(run.code).toBe(2);
    expect(run.output).toMatch(message);
    expect(run.output).toContain('Usage: npm run admin');
    expect(run.output).not.toMatch(STACK_TRACE);
    expect((await table.accounts.findProject(projectId))?.tier).toEqual({ freeAllotment: 3, unitPriceMinor: 2, currency: 'USD' });
  });

  test('refuses a chat id that is not an integer as a validation error, not a crash', async () => {
    const run = await cli('link-telegram', '--project', projectId, '--chat-id', '-12abc', '--json');
    expect(run.code).toBe(1);
    expect(JSON.parse(run.output.trim().split('\n').pop()!).error.code).toBe('VALIDATION_FAILED');
    expect((await table.accounts.findProject(projectId))?.telegramChatId).toBeNull();
  });
});
