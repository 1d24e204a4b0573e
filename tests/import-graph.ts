import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';

/** What a repository module imports or re-exports for its values (not `import type`): modules as repository paths, and packages (as written, subpaths included). */
export async function moduleImports(file: string): Promise<{ modules: string[]; packages: string[] }> {
  const text = await readFile(new URL(`../${file}`, import.meta.url), 'utf8');
  const folder = file.split('/').slice(0, -1);
  // imports and re-exports of values, and imports for their side effects alone
  const specs = [...text.matchAll(/^(?:(?:import|export) (?!type )[^;]*? from |import )'([^']+)';/gm)].map(
    ([, spec]) => spec,
  );
  const modules = specs
    .filter((spec) => spec.startsWith('.'))
    .map((spec) => {
      const parts = [...folder];
      for (const part of spec.split('/')) {
        if (part === '..') parts.pop();
        else if (part !== '.') parts.push(part);
      }
      const path = parts.join('/');
      // a folder's import is its index.ts
      return existsSync(new URL(`../${path}.ts`, import.meta.url)) ? `${path}.ts` : `${path}/index.ts`;
    });
  return { modules, packages: specs.filter((spec) => !spec.startsWith('.')) };
}

/** Every module `roots` reach through their value imports, but those in `outside` (and what only they import). */
export async function reachableModules(
  roots: string[],
  outside: ReadonlySet<string> = new Set(),
): Promise<Set<string>> {
  const seen = new Set<string>();
  const queue = [...roots];
  while (queue.length > 0) {
    const file = queue.pop() as string;
    if (seen.has(file) || outside.has(file)) continue;
    seen.add(file);
    queue.push(...(await moduleImports(file)).modules);
  }
  return seen;
}
