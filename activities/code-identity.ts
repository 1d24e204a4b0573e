/**
 * The code a stored artifact's key names must be the code that made it. A worker loads its
 * TypeScript once, when it starts, but reads each SQL file when it runs it, and its worker
 * threads compile their modules when they start: in a checkout edited (or upgraded in place)
 * under a running worker, a run would mix old and new code under a key, and a manifest, that
 * name one of them, and a later run would take what it stored as the other's. So each set of
 * source files a key covers is hashed as its module loads (with the worker) and again whenever a
 * key is made or an artifact stored; a difference stops the run with CodeChangedError.
 */
import { readdirSync, statSync } from 'node:fs';
import { sep } from 'node:path';
import { CodeChangedError } from '../domain/errors';

interface PinnedCode {
  what: string;
  hash: string;
  /** The files' paths, sizes and modification times when last found to hash as `hash`. */
  stamp: string;
  files: () => string[];
  compute: () => string;
}

const pinned: PinnedCode[] = [];

/** A pinned hash: calling it checks the files first; `loaded` is the hash as the module loaded it, unchecked. */
export type PinnedHash = (() => string) & { readonly loaded: string };

/**
 * Hashes `compute()` now (call it as a module loads) and returns a function that gives that
 * hash after checking that the files still hash the same: `files` lists the paths `compute`
 * reads, whose sizes and modification times spare reading them again while they stay the same.
 * `what` names the files for the error. Its `loaded` gives the hash without the check: what a
 * record of the code that ran names (the manifest's code.stageCode), where a key would check.
 */
export function pinCodeHash(what: string, files: () => string[], compute: () => string): PinnedHash {
  const code: PinnedCode = { what, hash: compute(), stamp: stampOf(files()), files, compute };
  pinned.push(code);
  const checked = () => {
    assertSame(code);
    return code.hash;
  };
  return Object.assign(checked, { loaded: code.hash });
}

function stampOf(files: string[]): string {
  return files
    .map((file) => {
      const stats = statSync(file);
      return `${file} ${stats.size} ${stats.mtimeMs}`;
    })
    .join('\n');
}

/** Throws CodeChangedError when any pinned set of files no longer hashes as it did when its module loaded. */
export function assertCodeUnchanged(): void {
  for (const code of pinned) assertSame(code);
}

function assertSame(code: PinnedCode): void {
  let stamp: string;
  let now: string;
  try {
    stamp = stampOf(code.files());
    if (stamp === code.stamp) return;
    now = code.compute();
  } catch (error) {
    throw codeChanged(code.what, `they cannot be read any more (${(error as Error).message})`);
  }
  if (now !== code.hash) throw codeChanged(code.what, 'their contents differ');
  code.stamp = stamp; // written again with the same bytes
}

/** The error for `what` having changed since this process loaded it. */
export function codeChanged(what: string, how: string): CodeChangedError {
  return new CodeChangedError(
    `${what} changed on disk since this worker started (${how}): the running code and the code ` +
      'a stored result would be keyed by differ. Restart the worker (or `segflow run`) to run the new code.',
  );
}

/** The SQL files under `dirs` of `root`, in every subfolder: paths relative to `root`, with `/`. */
export function sqlFilesUnder(root: URL, dirs: readonly string[]): string[] {
  return dirs.flatMap((dir) =>
    readdirSync(new URL(`${dir}/`, root), { recursive: true, encoding: 'utf8' })
      .filter((name) => name.endsWith('.sql'))
      .map((name) => `${dir}/${name.split(sep).join('/')}`)
      .sort(),
  );
}
