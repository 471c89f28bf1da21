import type { Ability } from '../../functions/domain/abilities';
import { systemClock } from '../../functions/domain/ports';
import * as admin from '../../functions/use-cases/admin';
import type { AccountStore } from '../../functions/domain/ports';

/** A team with one project (the demo tier), one plan and tokens with chosen abilities. */
export interface TeamFixture {
  teamId: string;
  projectId: string;
  planId: string;
  tokens: Record<string, string>;
}

/** Creates a team, project, plan and one token per named ability set, through the admin use cases. */
export const createTeamFixture = async (
  accounts: AccountStore,
  tokens: Record<string, Ability[]>,
  tier: admin.TierInput = { freeAllotment: 10, unitPriceMinor: 3, currency: 'USD' },
): Promise<TeamFixture> => {
  const deps = { accounts, clock: systemClock };
  const { team_id } = await admin.createTeam(deps, { name: 'Team' });
  const { project_id } = await admin.createProject(deps, { teamId: team_id, name: 'Project', tier, telegramChatId: '4242' });
  const { plan_id } = await admin.createPlan(deps, { projectId: project_id, name: 'Plan' });
  const issued: Record<string, string> = {};
  for (const [label, abilities] of Object.entries(tokens)) {
    issued[label] = (await admin.createToken(deps, { teamId: team_id, abilities })).token;
  }
  return { teamId: team_id, projectId: project_id, planId: plan_id, tokens: issued };
};
