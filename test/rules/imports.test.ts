import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The direction of the imports, read from the sources: handlers → use cases → domain;
 * adapters → domain; entry points and the composition roots wire them; lib/ sees only the
 * shared contracts and the operation catalog of functions/.
 */
// import.meta.url, not import.meta.dirname: Jest 29's ESM support only provides the former.
const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

const sourcesUnder = (folder: string): string[] =>
  readdirSync(join(ROOT, folder)).flatMap((name) => {
    const path = join(folder, name);
    if (statSync(join(ROOT, path)).isDirectory()) return sourcesUnder(path);
    return path.endsWith('.ts') ? [path] : [];
  });

const IMPORT = /(?:^|\n)\s*(?:import|export)\s[^'";]*?from\s*['"]([^'"]+)['"]|(?:^|\n)\s*import\s*['"]([^'"]+)['"]|\bimport\(\s*['"]([^'"]+)['"]\s*\)/g;

/** What a file imports: repository-relative paths for relative imports, package names otherwise. */
const importsOf = (file: string): string[] => {
  const source = readFileSync(join(ROOT, file), 'utf8');
  return [...source.matchAll(IMPORT)].map((match) => {
    const specifier = (match[1] ?? match[2] ?? match[3]) as string;
    return specifier.startsWith('.') ? relative(ROOT, resolve(ROOT, dirname(file), specifier)) : specifier;
  });
};

const violations = (folders: string[], forbidden: (target: string) => boolean): string[] =>
  folders.flatMap((folder) => sourcesUnder(folder).flatMap((file) => importsOf(file).filter(forbidden).map((target) => `${file} → ${target}`)));

describe('import direction', () => {
  it('reads the imports it checks (the reader itself works)', () => {
    expect(importsOf('functions/wiring.ts')).toEqual(expect.arrayContaining([expect.stringMatching(/^functions\/adapters\//)]));
    expect(sourcesUnder('functions/domain').length).toBeGreaterThan(5);
  });

  it('keeps the domain and the use cases free of adapters, handlers, wiring and the AWS SDK', () => {
    const forbidden = (target: string) =>
      /^functions\/(adapters|handlers|entrypoints)\//.test(target) || target === 'functions/wiring' || target === 'functions/billing-wiring' || target.startsWith('@aws-sdk/') || target === 'aws-lambda';
    expect(violations(['functions/domain', 'functions/use-cases'], forbidden)).toEqual([]);
  });

  it('keeps the operations off the handlers: arrows go handlers → operations only (a special route names its handler, functions/handlers/http/catalog-handler.ts builds it)', () => {
    expect(violations(['functions/operations'], (target) => target.startsWith('functions/handlers/'))).toEqual([]);
    // The reader sees the arrow it forbids, the other way.
    expect(importsOf('functions/handlers/http/operation-handler.ts')).toContain('functions/operations/operation');
  });

  it('keeps the domain free of use cases', () => {
    expect(violations(['functions/domain'], (target) => target.startsWith('functions/use-cases/'))).toEqual([]);
  });

  it('keeps every schema in one of two homes: operations/ (inputs and outputs) and contracts/ (messages, events, environment); the domain, the use cases and the adapters hold none', () => {
    expect(violations(['functions/domain', 'functions/use-cases', 'functions/adapters'], (target) => target === 'valibot' || target.startsWith('@valibot/'))).toEqual([]);
    // Every queue message's schema is declared beside the others, where producers and consumers both read it.
    const declaredElsewhere = sourcesUnder('functions')
      .filter((file) => file !== 'functions/contracts/queue-messages.ts' && /export const \w+MessageSchema\b/.test(readFileSync(join(ROOT, file), 'utf8')));
    expect(declaredElsewhere).toEqual([]);
  });

  it('declares every port (what the use cases ask of the outside) in functions/domain/ports.ts', () => {
    const PORT = /^export (?:interface|type) \w*(?:Store|Queue|Sender|Biller|Publisher|Scheduler|Reader|Writer|Ledger|Guard|Redelivery|Codec|Probe|Clock)\b/m;
    const declaredElsewhere = ['functions/domain', 'functions/use-cases', 'functions/handlers', 'functions/operations']
      .flatMap(sourcesUnder)
      .filter((file) => file !== 'functions/domain/ports.ts' && PORT.test(readFileSync(join(ROOT, file), 'utf8')));
    expect(declaredElsewhere).toEqual([]);
    expect(PORT.test(readFileSync(join(ROOT, 'functions/domain/ports.ts'), 'utf8'))).toBe(true);
  });

  it('emits business metrics from the primary adapters only: outside functions/handlers/, nothing imports the metrics, countMetric or Powertools Metrics', () => {
    const OBSERVABILITY = /(?:^|\n)\s*(?:import|export)\s([^'";]*?)from\s*['"][^'"]*\/observability['"]/g;
    const emitting = sourcesUnder('functions')
      .filter((file) => file !== 'functions/observability.ts' && !file.startsWith('functions/handlers/'))
      .flatMap((file) => {
        const source = readFileSync(join(ROOT, file), 'utf8');
        const named = [...source.matchAll(OBSERVABILITY)].flatMap((match) => (/\*|\b(?:metrics|countMetric)\b/.test(match[1] as string) ? [`${file} → ${(match[1] as string).trim()}`] : []));
        const powertools = importsOf(file).filter((target) => target.startsWith('@aws-lambda-powertools/metrics')).map((target) => `${file} → ${target}`);
        return [...named, ...powertools];
      });
    expect(emitting).toEqual([]);
    // The reader sees what it looks for: the handlers do import them.
    expect(readFileSync(join(ROOT, 'functions/handlers/queue/billing.ts'), 'utf8').match(OBSERVABILITY)?.some((line) => /\bcountMetric\b/.test(line))).toBe(true);
  });

  it('keeps adapters off the use cases and the handlers', () => {
    expect(violations(['functions/adapters'], (target) => /^functions\/(use-cases|handlers|operations|entrypoints)\//.test(target))).toEqual([]);
  });

  it('keeps test/ to itself: no file of the service, the local stack, the CLIs or the bench imports from it', () => {
    expect(violations(['functions', 'lib', 'local', 'bin', 'bench'], (target) => target.startsWith('test/'))).toEqual([]);
  });

  it('keeps functions/ off the local stack', () => {
    expect(violations(['functions'], (target) => target.startsWith('local/'))).toEqual([]);
  });

  it('lets lib/ import from functions/ only the contracts and the operation catalog, and nothing of local/', () => {
    const forbidden = (target: string) =>
      (target.startsWith('functions/') && !/^functions\/(contracts|operations)(\/|$)/.test(target)) || target.startsWith('local/');
    expect(violations(['lib'], forbidden)).toEqual([]);
  });

  it('keeps the consumer catalog in functions/contracts/consumers.ts, over the other contracts only, and the only place that names a consumer entry point', () => {
    expect(existsSync(join(ROOT, 'functions/contracts/consumers.ts'))).toBe(true);
    expect(importsOf('functions/contracts/consumers.ts').filter((target) => !target.startsWith('functions/contracts/'))).toEqual([]);
    // lib/ and local/ join consumers through the catalog, never by an entry point's path.
    const named = ['lib', 'local'].flatMap((folder) =>
      sourcesUnder(folder).filter((file) => /functions\/entrypoints\/(?!http['/])/.test(readFileSync(join(ROOT, file), 'utf8'))),
    );
    expect(named).toEqual([]);
  });

  it('composes the local stack from the consumer catalog: no file of local/ builds a consumer\'s handler by name (local/consumers.ts imports each from its catalog entry)', () => {
    const BUILDS = /import\s*\{[^}]*\b(?:makeHandler|consumerHandler)\b[^}]*\}\s*from\s*'[^']*handlers\/(?:queue|stream|schedule|events)\//;
    expect(sourcesUnder('local').filter((file) => BUILDS.test(readFileSync(join(ROOT, file), 'utf8')))).toEqual([]);
    // The reader sees what it forbids where it is allowed: the fault suite builds them by name.
    expect(BUILDS.test(readFileSync(join(ROOT, 'test/faults/consumers.test.ts'), 'utf8'))).toBe(true);
  });
});
