import { readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * Writes each generated file of `sources` (repository-relative path → text) under `root` where
 * it differs, and removes the files of `dir` that `owned` claims and `sources` no longer has
 * (a route or consumer that is gone). Returns the paths changed.
 */
export const writeGeneratedFiles = (root: string, sources: ReadonlyMap<string, string>, dir: string, owned: (file: string) => boolean): string[] => {
  const changed: string[] = [];
  for (const [path, source] of sources) {
    let current: string | undefined;
    try {
      current = readFileSync(join(root, path), 'utf8');
    } catch {
      current = undefined;
    }
    if (current !== source) {
      writeFileSync(join(root, path), source);
      changed.push(path);
    }
  }
  for (const file of readdirSync(join(root, dir), { withFileTypes: true })) {
    const path = `${dir}/${file.name}`;
    if (file.isFile() && owned(file.name) && !sources.has(path)) {
      rmSync(join(root, path));
      changed.push(path);
    }
  }
  return changed;
};
