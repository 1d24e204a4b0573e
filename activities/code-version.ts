import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

const ROOT = new URL('../', import.meta.url);
const TRACKED_DEPENDENCIES = ['@duckdb/node-api', 'ml-cart', 'ml-kmeans', '@temporalio/worker', '@temporalio/workflow'];

export interface CodeVersion {
  segflow: string;
  /** git commit of the worker's code, with "-dirty" when it had uncommitted changes; "unknown" outside git. */
  commit: string;
  node: string;
  dependencies: Record<string, string>;
}

let cached: CodeVersion | undefined;

/** What code produced a snapshot: read once per worker process. */
export function codeVersion(): CodeVersion {
  if (cached) return cached;
  const pkg = JSON.parse(readFileSync(new URL('package.json', ROOT), 'utf8')) as { version: string };
  cached = {
    segflow: pkg.version,
    commit: gitCommit(),
    node: process.version,
    dependencies: lockedVersions(TRACKED_DEPENDENCIES),
  };
  return cached;
}

/** A package as package-lock.json pins it. */
interface LockedPackage {
  version?: string;
  dependencies?: Record<string, string>;
}

/** package-lock.json's packages, by install path (`node_modules/<name>`, nested for a second copy). */
function lockedPackages(): Record<string, LockedPackage> {
  const lock = JSON.parse(readFileSync(new URL('package-lock.json', ROOT), 'utf8')) as {
    packages: Record<string, LockedPackage>;
  };
  return lock.packages;
}

/** The versions package-lock.json pins for these packages ('unknown' for one it does not list). */
export function lockedVersions(names: readonly string[]): Record<string, string> {
  const packages = lockedPackages();
  return Object.fromEntries(names.map((name) => [name, packages[`node_modules/${name}`]?.version ?? 'unknown']));
}

/**
 * A package and every package it depends on, by install path, with the versions the lock file
 * pins: a dependency resolves as Node resolves it, from the nearest node_modules folder upwards.
 */
export function lockedDependencyTree(name: string): Record<string, string> {
  const packages = lockedPackages();
  const resolve = (from: string, dependency: string): string | undefined => {
    for (let dir = from; ; dir = dir.slice(0, Math.max(0, dir.lastIndexOf('/node_modules/')))) {
      const path = `${dir ? `${dir}/` : ''}node_modules/${dependency}`;
      if (path in packages) return path;
      if (!dir) return undefined;
    }
  };
  const tree: Record<string, string> = {};
  const queue = [resolve('', name)].filter((path) => path !== undefined);
  while (queue.length > 0) {
    const path = queue.pop() as string;
    if (path in tree) continue;
    const entry = packages[path];
    tree[path] = entry.version ?? 'unknown';
    for (const dependency of Object.keys(entry.dependencies ?? {})) {
      const resolved = resolve(path, dependency);
      if (resolved) queue.push(resolved);
    }
  }
  return tree;
}

function gitCommit(): string {
  const git = (...args: string[]) =>
    execFileSync('git', args, { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  try {
    const commit = git('rev-parse', 'HEAD');
    // only source changes make the code differ from the commit; ignored state folders do not
    const dirty = git('status', '--porcelain', '--untracked-files=no') !== '';
    return dirty ? `${commit}-dirty` : commit;
  } catch {
    return 'unknown';
  }
}
