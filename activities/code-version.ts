import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { sha256 } from '../store/hashing';

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
  /**
   * sha256 over every code file the worker may load, by path and content (sourceHashOf): the same
   * hash is the same code, whatever the commit says, committed or not. Absent when the checkout
   * changed under the worker before it published (the run mixed two versions), and in manifests
   * published before it was recorded.
   */
  source?: string;
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
    source: sourceHashOf(ROOT),
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
  // an uncommitted edit under a worker started -dirty leaves the commit's text as it was: the hash tells
  if (sourceHashOf(ROOT) !== started.source) {
    const { source: _mixed, ...rest } = started;
    return {
      ...rest,
      commit: started.commit === 'unknown' ? 'unknown' : `${started.commit.replace(/-dirty$/, '')}-dirty`,
    };
  }
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
 * The code files under `root` the worker may load, relative and sorted, each with its content's git
 * blob id: in a git checkout the files commitOf counts (tracked or not ignored, and ignored ones
 * the stages load all the same), hashed by git as it would store them (line endings as the
 * checkout's attributes and autocrlf convert them, so a clone made with autocrlf holds the
 * commit's code); outside git every file under CODE_PATHS, its bytes hashed as git hashes a blob.
 * A tracked file deleted from the checkout is not loaded, and not listed.
 */
function codeBlobsOf(dir: string): [path: string, blob: string][] {
  const present = (path: string) => statSync(join(dir, path), { throwIfNoEntry: false })?.isFile() ?? false;
  let listed: string[];
  try {
    listed = [
      ...new Set([
        ...codeFilesListed(dir, '--cached', '--others', '--exclude-standard'),
        ...codeFilesListed(dir, '--others', '--ignored', '--exclude-standard').filter(loadedWhenIgnored),
      ]),
    ]
      .filter(present)
      .sort();
  } catch {
    const files = CODE_PATHS.flatMap((path) =>
      statSync(join(dir, path), { throwIfNoEntry: false })?.isDirectory()
        ? readdirSync(join(dir, path), { recursive: true, withFileTypes: true })
            .filter((entry) => entry.isFile())
            .map((entry) => relative(dir, join(entry.parentPath, entry.name)))
        : [path],
    );
    return files
      .filter(present)
      .sort()
      .map((path) => [path, rawBlobId(join(dir, path))]);
  }
  if (listed.length === 0) return [];
  try {
    const blobs = execFileSync('git', ['hash-object', '--stdin-paths'], {
      cwd: dir,
      input: listed.join('\n'),
      encoding: 'utf8',
      stdio: ['pipe', 'pipe', 'ignore'],
    })
      .trim()
      .split('\n');
    return listed.map((path, i) => [path, blobs[i]]);
  } catch {
    return listed.map((path) => [path, rawBlobId(join(dir, path))]);
  }
}

/** The files under CODE_PATHS that `git ls-files <args>` lists in the checkout at `root`; throws outside git. */
function codeFilesListed(root: URL | string, ...args: string[]): string[] {
  return execFileSync('git', ['ls-files', '-z', ...args, '--', ...CODE_PATHS], {
    cwd: root,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'ignore'],
  })
    .split('\0')
    .filter((path) => path !== '');
}

/** A file's bytes hashed as git hashes a blob it stores unconverted. */
function rawBlobId(path: string): string {
  const content = readFileSync(path);
  return createHash('sha1').update(`blob ${content.length}\0`).update(content).digest('hex');
}

/**
 * sha256 over the code files under `root`, each by its path and git blob id (codeBlobsOf): what
 * the worker loads, so two checkouts with the same hash compute the same, and a commit that
 * changed only docs or tests leaves it as it was.
 */
export function sourceHashOf(root: URL | string): string {
  const dir = typeof root === 'string' ? root : fileURLToPath(root);
  return sha256(
    codeBlobsOf(dir)
      .map(([path, blob]) => `${path}\n${blob}`)
      .join('\n'),
  );
}

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
    const untracked = (...args: string[]) => codeFilesListed(root, '--others', '--exclude-standard', ...args);
    const dirty = changed || untracked().length > 0 || untracked('--ignored').some(loadedWhenIgnored);
    return dirty ? `${commit}-dirty` : commit;
  } catch {
    return 'unknown';
  }
}

/** How the code that published a snapshot compares with the code recomputing it. */
export interface CodeComparison {
  /**
   * The same source hash where both record it; else the same commit, neither with uncommitted
   * changes nor outside git, and the same stage code where both record it.
   */
  same: boolean;
  /** Known to differ: another source hash, or, without one, another commit or other stage code (the dirty mark alone does not say). */
  differs: boolean;
  /** Why the code is not known to be the same, each plainly (empty when `same`). */
  why: string[];
  /** The published manifest records the stage-code hash (absent before it was recorded). */
  stageCodeRecorded: boolean;
}

/** The code recorded in a manifest (`then`) against the code running now. */
export function compareCode(
  then: Pick<CodeVersion, 'commit' | 'stageCode' | 'source'>,
  now: CodeVersion,
): CodeComparison {
  const clean = (commit: string) => commit.replace(/-dirty$/, '');
  const short = (hash: string) => `${hash.slice(0, 12)}…`;
  const known = then.commit !== 'unknown' && now.commit !== 'unknown';
  const otherCommit = known && clean(then.commit) !== clean(now.commit);
  const otherStageCode =
    then.stageCode !== undefined && now.stageCode !== undefined && then.stageCode !== now.stageCode;
  const stageCodeRecorded = then.stageCode !== undefined;
  // one clean commit on both sides is the same code whatever the bytes on disk (git says so, after
  // its conversions); else every code file's content, where both record it, decides
  const sameCleanCommit = known && then.commit === now.commit && !then.commit.endsWith('-dirty');
  if (sameCleanCommit && !otherStageCode) return { same: true, differs: false, why: [], stageCodeRecorded };
  if (then.source !== undefined && now.source !== undefined) {
    if (then.source === now.source) return { same: true, differs: false, why: [], stageCodeRecorded };
    const why = [
      `its code files differ from this checkout's (source then ${short(then.source)}, now ${short(now.source)})`,
    ];
    if (otherCommit)
      why.push(`it was published at commit ${clean(then.commit)}, this checkout is at ${clean(now.commit)}`);
    if (otherStageCode) why.push("the load and feature stages' code differs");
    if (then.commit.endsWith('-dirty')) why.push('the code that published it had uncommitted changes (-dirty)');
    if (now.commit.endsWith('-dirty')) why.push('the code reproducing it has uncommitted changes (-dirty)');
    return { same: false, differs: true, why, stageCodeRecorded };
  }
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
  return { same: why.length === 0, differs: otherCommit || otherStageCode, why, stageCodeRecorded };
}
