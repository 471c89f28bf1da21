// The template suites, run as one Jest file. Each Jest file has its own module registry, in
// which aws-cdk-lib and cdk-nag load anew, the CloudFormation validation engine (WebAssembly) is
// built anew, and every stage is synthesized anew: seconds of CPU per file. In one file they load
// once and synthService's cache serves every suite (the suites only read what it returns).
// A new template suite (`*.suite.ts`) is imported here. stateless-stack.test.ts stays a file of
// its own: it is the one synthesis that bundles the functions.
// safe-deploy first: its beforeAll synthesizes the stage with the most resource types, and the
// validation engine is rebuilt whenever a synthesis has a type it was not built for.
import './safe-deploy.suite';
import './agent-interface.suite';
import './billing.suite';
import './consumers.suite';
import './expiry.suite';
import './pipeline.suite';
import './production-readiness.suite';
import './stateful-stack.suite';
import './validation.suite';
import './webhooks.suite';
