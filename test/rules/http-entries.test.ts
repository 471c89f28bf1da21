import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { API_ROUTES, HTTP_ENTRY_DIR } from '../../lib/api-routes';
import { httpEntrySources, ROUTE_FACTORIES } from '../../lib/http-entries';
import { ROUTE_HANDLERS } from '../../functions/handlers/http/catalog-handler';
import { openApiDocument } from '../../functions/operations/openapi';
import { CATALOG } from '../../functions/operations';

// import.meta.url, not import.meta.dirname: Jest 29's ESM support only provides the former.
const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

describe('the HTTP routes’ entry points', () => {
  let sources: Map<string, string>;
  beforeAll(async () => {
    sources = await httpEntrySources();
  });

  test('are the files lib/http-entries.ts writes from the catalog (run `npm run generate:entries` after changing it)', () => {
    const onDisk = readdirSync(join(ROOT, HTTP_ENTRY_DIR)).map((file) => `${HTTP_ENTRY_DIR}/${file}`);
    expect(onDisk.sort()).toEqual([...sources.keys()].sort());
    for (const [path, source] of sources) expect([path, readFileSync(join(ROOT, path), 'utf8')]).toEqual([path, source]);
  });

  test('import their own operation from the module defining it, and the whole catalog only where the entry is built from it', () => {
    const wholeCatalog = [...sources].filter(([, source]) => source.includes("from '../../operations';")).map(([path]) => path);
    expect(wholeCatalog.sort()).toEqual([`${HTTP_ENTRY_DIR}/mcp.ts`]);
    // The OpenAPI document is built from the catalog here, once, and its function serves the JSON.
    const openapi = API_ROUTES.find((route) => route.operation === 'openapi_document')!;
    expect(sources.get(openapi.entry)).toContain("import document from './openapi-document.json' with { type: 'json' };");
    expect(JSON.parse(sources.get(openapi.entry.replace(/\.ts$/, '.json'))!)).toEqual(openApiDocument(CATALOG));
    const preview = API_ROUTES.find((route) => route.operation === 'preview_access_code_cost')!;
    expect(sources.get(preview.entry)).toContain("import { previewAccessCodeCostOperation as entry } from '../../operations/preview-access-code-cost';");
  });

  test('build each special route with the factory the local stack uses for its kind, imported alone', async () => {
    for (const [kind, { module, name }] of Object.entries(ROUTE_FACTORIES)) {
      const exported = (await import(join(ROOT, module))) as Record<string, unknown>;
      expect([kind, exported[name]]).toEqual([kind, ROUTE_HANDLERS[kind as keyof typeof ROUTE_FACTORIES]]);
    }
    const health = API_ROUTES.find((route) => route.operation === 'health')!;
    expect(sources.get(health.entry)).toContain("import { serveHealth } from '../../handlers/http/health';");
    // No entry imports the registry of every route's factory.
    expect([...sources.values()].filter((source) => source.includes('catalog-handler'))).toEqual([]);
  });
});
