import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';

declare module 'vitest' {
  export interface ProvidedContext {
    testTempRoot: string;
  }
}

/**
 * One folder per test run holds every test's temporary folders, removed when the run ends: a
 * file whose own cleanup never ran (a crashed worker, a hook that timed out) leaves nothing behind.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const root = await mkdtemp(join(tmpdir(), 'segflow-tests-'));
  // open to other users as the system's temporary folder is: a test that runs a command as nobody
  // (tests/unit/input-permissions.test.ts) opens its own folder, which lies inside this one
  await chmod(root, 0o755);
  project.provide('testTempRoot', root);
  return () => rm(root, { recursive: true, force: true });
}
