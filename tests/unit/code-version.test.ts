import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { appendFile, cp, mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { pinCodeHash, sqlFilesUnder } from '../../activities/code-identity';
import { commitOf, compareCode, sourceHashOf, type CodeVersion } from '../../activities/code-version';
import { manifestCode } from '../../activities/publish';
import { stageCodeHash } from '../../activities/stage-code';
import { CodeChangedError } from '../../domain/errors';
import { sha256 } from '../../store/hashing';
import { tempDir } from '../helpers';

/** A checkout with a committed stage SQL file, a doc and a test, at a clean commit. */
async function checkout(): Promise<{ dir: string; commit: string }> {
  const dir = await tempDir('segflow-code-version-');
  const git = (...args: string[]) =>
    execFileSync('git', ['-c', 'user.name=t', '-c', 'user.email=t@t', ...args], { cwd: dir, encoding: 'utf8' });
  git('init', '-q');
  await mkdir(join(dir, 'activities', 'features', 'partition'), { recursive: true });
  await mkdir(join(dir, 'activities', 'ml'), { recursive: true });
  await mkdir(join(dir, 'docs'));
  await mkdir(join(dir, 'tests'));
  await writeFile(join(dir, 'activities', 'features', 'partition', '01_usage.sql'), 'SELECT 1;\n');
  await writeFile(join(dir, 'activities', 'ml', 'kernel.ts'), 'export {};\n');
  await writeFile(join(dir, 'docs', 'notes.md'), 'notes\n');
  await writeFile(join(dir, 'package.json'), '{}\n');
  await writeFile(join(dir, '.gitignore'), '*.log\n*_local*\n');
  git('add', '.');
  git('commit', '-q', '-m', 'clean');
  return { dir, commit: git('rev-parse', 'HEAD').trim() };
}

describe('the commit a worker records', () => {
  it('is clean at a clean commit, whatever is untracked outside the code folders or ignored and never loaded', async () => {
    const { dir, commit } = await checkout();
    expect(commitOf(dir)).toBe(commit);
    await writeFile(join(dir, 'tests', 'new.test.ts'), 'export {};\n');
    await writeFile(join(dir, 'docs', 'draft.md'), 'draft\n');
    await writeFile(join(dir, 'scratch.txt'), 'scratch\n');
    await writeFile(join(dir, 'activities', 'worker.log'), 'ignored, never loaded\n');
    expect(commitOf(dir)).toBe(commit);
  });

  it('is -dirty with an untracked file under the code folders (the auditor: a features SQL file the stage runs)', async () => {
    const { dir, commit } = await checkout();
    await writeFile(join(dir, 'activities', 'features', 'partition', '06_local_override.sql'), 'SELECT 2;\n');
    // ignored by *_local*, yet the features stage runs every .sql file of its folder
    expect(commitOf(dir)).toBe(`${commit}-dirty`);
  });

  it('is -dirty with an untracked, not ignored file in a code folder, and with one ignored in activities/ml', async () => {
    const untracked = await checkout();
    await mkdir(join(untracked.dir, 'domain'));
    await writeFile(join(untracked.dir, 'domain', 'rules.ts'), 'export const X = 2;\n');
    expect(commitOf(untracked.dir)).toBe(`${untracked.commit}-dirty`);

    const sql = await checkout();
    await writeFile(join(sql.dir, 'activities', 'features', 'partition', '06_override.sql'), 'SELECT 2;\n');
    expect(commitOf(sql.dir)).toBe(`${sql.commit}-dirty`);

    // activities/ml: its code hash and threads take every file of the folder
    const ml = await checkout();
    await writeFile(join(ml.dir, 'activities', 'ml', 'kernel_local.ts'), 'export {};\n');
    expect(commitOf(ml.dir)).toBe(`${ml.commit}-dirty`);
  });

  it('is -dirty with a tracked file changed anywhere, as before', async () => {
    const { dir, commit } = await checkout();
    await appendFile(join(dir, 'docs', 'notes.md'), 'more\n');
    expect(commitOf(dir)).toBe(`${commit}-dirty`);
  });

  it('is unknown outside git', async () => {
    expect(commitOf(await tempDir('segflow-no-git-'))).toBe('unknown');
  });
});

describe('the code files hash a worker records (code.source)', () => {
  it('is the same for the same code files, committed or not, and moves with any code file only', async () => {
    const { dir } = await checkout();
    const clean = sourceHashOf(dir);
    // docs, tests and files ignored and never loaded are not code the worker runs
    await appendFile(join(dir, 'docs', 'notes.md'), 'more\n');
    await writeFile(join(dir, 'tests', 'new.test.ts'), 'export {};\n');
    await writeFile(join(dir, 'activities', 'worker.log'), 'ignored, never loaded\n');
    expect(commitOf(dir)).toMatch(/-dirty$/);
    expect(sourceHashOf(dir)).toBe(clean);
    // a stage SQL file the commit does not show, even one ignored, is code
    await writeFile(join(dir, 'activities', 'features', 'partition', '06_local_override.sql'), 'SELECT 2;\n');
    const withOverride = sourceHashOf(dir);
    expect(withOverride).not.toBe(clean);
    await rm(join(dir, 'activities', 'features', 'partition', '06_local_override.sql'));
    expect(sourceHashOf(dir)).toBe(clean);
    // an edit of a tracked code file, and a tracked file deleted (no longer loaded)
    await appendFile(join(dir, 'activities', 'ml', 'kernel.ts'), '// edited\n');
    expect(sourceHashOf(dir)).not.toBe(clean);
    const other = await checkout();
    await rm(join(other.dir, 'activities', 'ml', 'kernel.ts'));
    expect(sourceHashOf(other.dir)).not.toBe(clean);
  });

  it("is the commit's in a checkout whose line endings git converts (core.autocrlf)", async () => {
    const { dir } = await checkout();
    const clean = sourceHashOf(dir);
    execFileSync('git', ['config', 'core.autocrlf', 'true'], { cwd: dir });
    const sql = join(dir, 'activities', 'features', 'partition', '01_usage.sql');
    await writeFile(sql, 'SELECT 1;\r\n');
    expect(sourceHashOf(dir)).toBe(clean);
    // without the conversion the bytes differ, and so does the code
    execFileSync('git', ['config', 'core.autocrlf', 'false'], { cwd: dir });
    expect(sourceHashOf(dir)).not.toBe(clean);
  });

  it('outside git hashes every file of the code folders: a copy of a clean checkout without .git has its hash', async () => {
    const { dir } = await checkout();
    const copy = await tempDir('segflow-no-git-');
    for (const path of ['activities', 'package.json']) await cp(join(dir, path), join(copy, path), { recursive: true });
    expect(commitOf(copy)).toBe('unknown');
    expect(sourceHashOf(copy)).toBe(sourceHashOf(dir));
  });

  it('decides whether reproduce deals with the same code, whatever the commits and dirty marks say', () => {
    const code = (commit: string, source?: string): CodeVersion => ({
      segflow: '0.1.0',
      commit,
      node: 'v20.0.0',
      dependencies: {},
      stageCode: 'c'.repeat(64),
      ...(source ? { source } : {}),
    });
    const [A, B] = ['a'.repeat(40), 'b'.repeat(40)];
    const [X, Y] = ['1'.repeat(64), '2'.repeat(64)];
    // uncommitted on both sides, or two commits apart (docs alone): the same code files
    expect(compareCode(code(`${A}-dirty`, X), code(`${A}-dirty`, X))).toMatchObject({ same: true, differs: false });
    expect(compareCode(code(A, X), code(B, X))).toMatchObject({ same: true, why: [] });
    expect(compareCode(code('unknown', X), code(A, X)).same).toBe(true);
    // the same commit text, other files
    expect(compareCode(code(`${A}-dirty`, X), code(`${A}-dirty`, Y))).toEqual({
      same: false,
      differs: true,
      why: [
        "its code files differ from this checkout's (source then 111111111111…, now 222222222222…)",
        'the code that published it had uncommitted changes (-dirty)',
        'the code reproducing it has uncommitted changes (-dirty)',
      ],
      stageCodeRecorded: true,
    });
    // an older manifest without it: the commit and stage code decide, as before
    expect(compareCode(code(`${A}-dirty`), code(`${A}-dirty`, X))).toMatchObject({ same: false, differs: false });
  });
});

describe("the manifest's code", () => {
  it('hashes the stage SQL of every subfolder, a new one too', async () => {
    const root = await tempDir();
    await mkdir(join(root, 'activities/features/partition/extra'), { recursive: true });
    await writeFile(join(root, 'activities/features/01_a.sql'), 'SELECT 1');
    await writeFile(join(root, 'activities/features/partition/extra/02_b.sql'), 'SELECT 2');
    await writeFile(join(root, 'activities/features/notes.md'), 'not SQL');
    expect(sqlFilesUnder(pathToFileURL(`${root}/`), ['activities/features'])).toEqual([
      'activities/features/01_a.sql',
      'activities/features/partition/extra/02_b.sql',
    ]);
  });

  it("records the stage-code hash the load and feature stages' keys name", () => {
    const code = manifestCode();
    expect(code.stageCode).toBe(stageCodeHash());
    expect(code.stageCode).toMatch(/^[0-9a-f]{64}$/);
  });

  it('is the hash the worker loaded, unchecked: a file changed since stops a key being made, not the record', async () => {
    const file = join(await tempDir(), 'stage.sql');
    writeFileSync(file, 'SELECT 1;\n');
    const pinned = pinCodeHash(
      'the test stage',
      () => [file],
      () => sha256(readFileSync(file, 'utf8')),
    );
    try {
      writeFileSync(file, 'SELECT 2;\n');
      expect(() => pinned()).toThrow(CodeChangedError);
      expect(pinned.loaded).toBe(sha256('SELECT 1;\n'));
    } finally {
      writeFileSync(file, 'SELECT 1;\n');
    }
    expect(pinned()).toBe(pinned.loaded);
  });
});
