import { ResourceNotFoundError } from '../domain/errors';
import type { Plan, Principal, Project } from '../domain/model';
import type { AccountReader } from '../domain/ports';

/**
 * Loads a plan and its project for a principal. A plan of another team answers exactly like a
 * plan that does not exist, so that nobody learns which ids are taken.
 */
export const loadPlanForPrincipal = async (
  deps: { accounts: AccountReader },
  principal: Principal,
  planId: string,
): Promise<{ plan: Plan; project: Project }> => {
  const plan = await deps.accounts.findPlan(planId);
  if (!plan || plan.teamId !== principal.teamId) throw new ResourceNotFoundError('Plan', planId);
  const project = await deps.accounts.findProject(plan.projectId);
  if (!project || project.teamId !== principal.teamId) throw new ResourceNotFoundError('Plan', planId);
  return { plan, project };
};
