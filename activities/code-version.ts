import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

const ROOT = new URL('../', import.meta.url);
const TRACKED_DEPENDENCIES = ['@duckdb/node-api', 'ml-cart', 'ml-kmeans', '@temporalio/worker', '@temporalio/workflow'];

export interface CodeVersion {
  segflow: string;
  /**
   * git commit of the worker's code, with "-dirty" when the checkout held code the commit does not
   * (commitOf gives the rule); "unknown" outside git.
   */
  commit: string;
  node: string;
  dependencies: Record<string, string>;
  /**
   * sha256 of the load and feature stages' code, SQL and DuckDB version (activities/stage-code.ts),
   * the code hash inside lineage.stageKey: it differs when their code did, whatever the commit
   * says. Absent in manifests published before it was recorded.
   */
  stageCode?: string;
}

let cached: CodeVersion | undefined;

/**
 * What code produced a snapshot: read once per process, by a worker as it starts
 * (createSegflowWorker), so the commit is the one whose TypeScript the worker loaded.
 */
export function codeVersion(): CodeVersion {
  if (cached) return cached;
  const pkg = JSON.parse(readFileSync(new URL('package.json', ROOT), 'utf8')) as { version: string };
  cached = {
    segflow: pkg.version,
    commit: commitOf(ROOT),
    node: process.version,
    dependencies: lockedVersions(TRACKED_DEPENDENCIES),
  };
  return cached;
}

/**
 * The code a publish records: codeVersion(), whose commit is the one the worker started from,
 * marked `-dirty` when the checkout has moved since (another commit, or changes). The worker runs
 * the TypeScript it started with but reads each SQL file when it runs it, so the run mixed the
 * two: neither commit alone made it.
 */
export function publishedCodeVersion(): CodeVersion {
  const started = codeVersion();
  if (started.commit === 'unknown' || started.commit.endsWith('-dirty') || commitOf(ROOT) === started.commit)
    return started;
  return { ...started, commit: `${started.commit}-dirty` };
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

/**
 * The folders and files (from the project root) whose content the worker may load: a file git
 * does not track there can change what a run computes (a features stage runs every `.sql` file in
 * its folders), so it makes the commit "-dirty". Tests, docs, bench, scripts and types are not
 * loaded by a worker.
 */
export const CODE_PATHS = [
  'activities',
  'bin',
  'cli',
  'data',
  'domain',
  'pipelines',
  'store',
  'worker',
  'workflows',
  'package.json',
  'package-lock.json',
  'tsconfig.json',
];

/**
 * An ignored file the code loads all the same: the stages run every `.sql` file of their SQL
 * folders and the model code hashes and compiles every file of activities/ml, by listing the
 * folder, whatever git ignores (a global excludes file may ignore `*.sql` or a `*_local*` name).
 */
const loadedWhenIgnored = (path: string) => path.endsWith('.sql') || path.startsWith('activities/ml/');

/**
 * The commit of the checkout at `root`, with "-dirty" when the code there is not the commit's:
 * a tracked file (anywhere) differs from it, or, under CODE_PATHS, there is a file git does not
 * track, unless .gitignore (or another exclude file) ignores it and it is not loadedWhenIgnored.
 * "unknown" when git cannot say (no git, not a checkout).
 */
export function commitOf(root: URL | string): string {
  const git = (...args: string[]) =>
    execFileSync('git', args, { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  try {
    const commit = git('rev-parse', 'HEAD').trim();
    const changed = git('status', '--porcelain', '--untracked-files=no') !== '';
    const files = (...args: string[]) =>
      git('ls-files', '-z', '--others', '--exclude-standard', ...args, '--', ...CODE_PATHS)
        .split('\0')
        .filter((path) => path !== '');
    const dirty = changed || files().length > 0 || files('--ignored').some(loadedWhenIgnored);
    return dirty ? `${commit}-dirty` : commit;
  } catch {
    return 'unknown';
  }
}

/** How the code that published a snapshot compares with the code recomputing it. */
export interface CodeComparison {
  /** The same commit, neither with uncommitted changes nor outside git, and the same stage code where both record it. */
  same: boolean;
  /** Known to differ: another commit, or other stage code (the dirty mark alone does not say). */
  differs: boolean;
  /** Why the code is not known to be the same, each plainly (empty when `same`). */
  why: string[];
  /** The published manifest records the stage-code hash (absent before it was recorded). */
  stageCodeRecorded: boolean;
}

/** The code recorded in a manifest (`then`) against the code running now. */
export function compareCode(then: Pick<CodeVersion, 'commit' | 'stageCode'>, now: CodeVersion): CodeComparison {
  const clean = (commit: string) => commit.replace(/-dirty$/, '');
  const short = (hash: string) => `${hash.slice(0, 12)}…`;
  const known = then.commit !== 'unknown' && now.commit !== 'unknown';
  const otherCommit = known && clean(then.commit) !== clean(now.commit);
  const otherStageCode =
    then.stageCode !== undefined && now.stageCode !== undefined && then.stageCode !== now.stageCode;
  const why: string[] = [];
  if (otherCommit)
    why.push(`it was published at commit ${clean(then.commit)}, this checkout is at ${clean(now.commit)}`);
  if (otherStageCode)
    why.push(
      `the load and feature stages' code differs (stage code then ${short(then.stageCode ?? '')}, now ${short(now.stageCode ?? '')})`,
    );
  if (then.commit === 'unknown') why.push('the code that published it was not a git checkout (commit unknown)');
  if (then.commit.endsWith('-dirty')) why.push('the code that published it had uncommitted changes (-dirty)');
  if (now.commit === 'unknown') why.push('the code reproducing it is not a git checkout (commit unknown)');
  if (now.commit.endsWith('-dirty')) why.push('the code reproducing it has uncommitted changes (-dirty)');
  return {
    same: why.length === 0,
    differs: otherCommit || otherStageCode,
    why,
    stageCodeRecorded: then.stageCode !== undefined,
  };
}
