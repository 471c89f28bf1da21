/**
 * Writes the entry point of every HTTP route (`npm run generate:entries`):
 * one file per catalog entry, at the path its route names (API_ROUTES' `entry`), that imports
 * that entry from the module defining it and serves it on the production wiring of its needs,
 * with the tool handler or the one factory its special route names (ROUTE_FACTORIES). A bundle
 * then holds one operation, its handler and what its needs use; an entry built from the whole
 * catalog (the MCP endpoint runs every tool; the OpenAPI document describes every route) imports
 * the catalog itself.
 * test/rules/http-entries.test.ts fails when a file differs from what this writes.
 */
import { readdirSync } from 'node:fs';
import { basename, dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeGeneratedFiles } from './generated-files';
import { API_ROUTES, HTTP_ENTRY_DIR } from './api-routes';
import { openApiDocument } from '../functions/operations/openapi';
import { CATALOG, type CatalogEntry } from '../functions/operations';
import type { RouteHandlerKind } from '../functions/operations/operation';

// import.meta.url, not import.meta.dirname: Jest 29's ESM support only provides the former.
const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const OPERATIONS_DIR = 'functions/operations';

/** The route whose entry serves a document built here rather than the catalog at cold start. */
const OPENAPI_OPERATION = 'openapi_document';

/**
 * The factory of each kind of special route, by module and export: the same functions as
 * ROUTE_HANDLERS in functions/handlers/http/catalog-handler.ts (test/rules/http-entries.test.ts
 * checks), named here so that an entry point imports its own alone. The OpenAPI document's entry
 * serves the document built here instead.
 */
export const ROUTE_FACTORIES: Readonly<Record<Exclude<RouteHandlerKind, 'openapi'>, { readonly module: string; readonly name: string }>> = {
  health: { module: 'functions/handlers/http/health', name: 'serveHealth' },
  telegram_webhook: { module: 'functions/handlers/http/telegram-webhook', name: 'serveTelegramWebhook' },
  mcp: { module: 'functions/handlers/mcp/serve-mcp', name: 'serveMcp' },
  mcp_method_not_allowed: { module: 'functions/handlers/mcp/endpoint', name: 'serveMcpMethodNotAllowed' },
  protected_resource: { module: 'functions/handlers/mcp/endpoint', name: 'serveProtectedResource' },
};

/** Where a catalog entry is exported from: a module of functions/operations and the export's name. */
interface Export {
  module: string;
  name: string;
}

/** Every catalog entry exported as such by a module of functions/operations (factory-made ones are not). */
const exportsOf = async (): Promise<Map<CatalogEntry, Export>> => {
  const found = new Map<CatalogEntry, Export>();
  const modules = readdirSync(join(ROOT, OPERATIONS_DIR))
    .filter((file) => file.endsWith('.ts') && file !== 'index.ts')
    .sort();
  for (const file of modules) {
    const module: Record<string, unknown> = await import(join(ROOT, OPERATIONS_DIR, file));
    for (const [name, value] of Object.entries(module).sort(([a], [b]) => a.localeCompare(b))) {
      const entry = CATALOG.find((candidate) => candidate === value);
      if (entry && !found.has(entry)) found.set(entry, { module: `${OPERATIONS_DIR}/${basename(file, '.ts')}`, name });
    }
  }
  return found;
};

/** The source of each HTTP route's entry point, by repository-relative path. */
export const httpEntrySources = async (): Promise<Map<string, string>> => {
  const exported = await exportsOf();
  const sources = new Map<string, string>();
  for (const route of API_ROUTES) {
    const entry = CATALOG.find((candidate) => candidate.name === route.operation)!;
    if (entry.name === OPENAPI_OPERATION) {
      // The document is the catalog's, built here once: the function serves it as JSON.
      const json = route.entry.replace(/\.ts$/, '.json');
      sources.set(json, `${JSON.stringify(openApiDocument(CATALOG), null, 1)}\n`);
      sources.set(
        route.entry,
        [
          '// Generated from the operation catalog by lib/http-entries.ts: do not edit.',
          `import { serveOpenApiDocument } from '${relative(dirname(route.entry), 'functions/handlers/http/openapi-served')}';`,
          `import document from './${basename(json)}' with { type: 'json' };`,
          '',
          `/** Lambda entry point of ${route.method} ${route.path}: the document built from the catalog by lib/http-entries.ts, served as JSON. */`,
          'export const handler = serveOpenApiDocument(document);',
          '',
        ].join('\n'),
      );
      continue;
    }
    const from = (path: string) => relative(dirname(route.entry), path);
    const own = exported.get(entry);
    // The builder of each need the entry declares (functions/wiring.ts names them `<need>Need`).
    const builders = Object.keys(entry.needs)
      .filter((need) => entry.needs[need as keyof typeof entry.needs] !== undefined)
      .sort()
      .map((need) => [need, `${need}Need`] as const);
    const passed = builders.length ? `{ ${builders.map(([need, builder]) => `${need}: ${builder}`).join(', ')} }` : '{}';
    const imported = own
      ? `import { ${own.name} as entry } from '${from(own.module)}';`
      : `import { catalogEntry } from '${from('functions/operations')}';`;
    if (entry.kind === 'tool' && !own) throw new Error(`${entry.name}: a tool's entry point imports it from its own module; export it there`);
    const factory =
      entry.kind === 'tool' ? { module: 'functions/handlers/http/operation-handler', name: 'toolHandler' } : ROUTE_FACTORIES[entry.handler.kind as keyof typeof ROUTE_FACTORIES];
    sources.set(
      route.entry,
      [
        '// Generated from the operation catalog by lib/http-entries.ts: do not edit.',
        `import { ${factory.name} } from '${from(factory.module)}';`,
        imported,
        `import { ${[...builders.map(([, builder]) => builder), 'productionOperationDeps'].sort().join(', ')} } from '${from('functions/wiring')}';`,
        ...(own ? [] : ['', `const entry = catalogEntry('${entry.name}')!;`]),
        '',
        `/** Lambda entry point of ${route.method} ${route.path}: ${entry.name}${own ? ' alone' : ', from the whole catalog'}, on the wiring of its needs. */`,
        `export const handler = ${factory.name}(entry, await productionOperationDeps(entry.needs, ${passed}));`,
        '',
      ].join('\n'),
    );
  }
  return sources;
};

/** Writes every route's entry point and removes the files of routes that are gone; returns the paths changed. */
export const writeHttpEntries = async (): Promise<string[]> => writeGeneratedFiles(ROOT, await httpEntrySources(), HTTP_ENTRY_DIR, () => true);

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const changed = await writeHttpEntries();
  console.log(changed.length ? `updated ${changed.join(', ')}` : 'every HTTP entry point is up to date');
}
