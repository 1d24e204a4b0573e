import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { appendFile, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { pinCodeHash } from '../../activities/code-identity';
import { commitOf } from '../../activities/code-version';
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

describe("the manifest's code", () => {
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
