import { TOOLS } from '../functions/operations';
import { toolDefinition } from '../functions/handlers/mcp/tools';
for (const n of ['redeem_access_code', 'expire_batch', 'get_job_status']) console.log(JSON.stringify(toolDefinition(TOOLS.find((t) => t.name === n)!), null, 1).slice(0, 3000));
