import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DefaultLogger, type LogEntry, type Logger } from '@temporalio/worker';
import { REPO_ROOT } from '../../worker/config';
import { cachedWorkflowBundle } from '../../worker/workflow-bundle';

const logger: Logger = new DefaultLogger('ERROR');

/**
 * A worker start loads the stored workflow bundle while every source it was built from is
 * unchanged, and bundles again otherwise. The workflows live inside the clone (under the
 * git-ignored .segflow) because webpack resolves the SDK from the workflows' folder.
 */
describe('the stored workflow bundle', () => {
  let dir: string;
  let workflows: string;
  let helper: string;
  beforeAll(async () => {
    await mkdir(join(REPO_ROOT, '.segflow'), { recursive: true });
    dir = await mkdtemp(join(REPO_ROOT, '.segflow', 'test-workflow-bundle-'));
    workflows = join(dir, 'workflows.ts');
    helper = join(dir, 'greeting.ts');
    await writeFile(helper, "export const greeting = 'hello';\n");
    await writeFile(
      workflows,
      "import { greeting } from './greeting';\nexport async function greet(): Promise<string> {\n  return greeting;\n}\n",
    );
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('is loaded again while its sources are unchanged, and rebuilt when a file it imports changes', async () => {
    const cache = join(dir, 'cache-a');
    const first = await cachedWorkflowBundle(workflows, cache, logger);
    expect(first.reused).toBe(false);
    expect(first.code).toContain("'hello'");

    const again = await cachedWorkflowBundle(workflows, cache, logger);
    expect(again).toEqual({ code: first.code, reused: true });

    await writeFile(helper, "export const greeting = 'good morning';\n");
    const changed = await cachedWorkflowBundle(workflows, cache, logger);
    expect(changed.reused).toBe(false);
    expect(changed.code).toContain("'good morning'");
    expect(changed.code).not.toContain("'hello'");
    // the new bundle is the one stored
    expect(await cachedWorkflowBundle(workflows, cache, logger)).toEqual({ code: changed.code, reused: true });
  });

  it('is rebuilt when the stored file is damaged or written by another bundler version', async () => {
    const cache = join(dir, 'cache-b');
    const { code } = await cachedWorkflowBundle(workflows, cache, logger);
    const [name] = await readdir(cache);
    const stored = join(cache, name);
    const text = await readFile(stored, 'utf8');

    await writeFile(stored, text.slice(0, 1_000)); // cut short in its first line: no list of inputs to check
    expect(await cachedWorkflowBundle(workflows, cache, logger)).toEqual({ code, reused: false });

    await writeFile(stored, text.replace(/@temporalio\/worker@[^ ]+/, '@temporalio/worker@0.0.1'));
    expect(await cachedWorkflowBundle(workflows, cache, logger)).toEqual({ code, reused: false });
  });

  it('removes, when it stores a bundle, those no worker would load again', async () => {
    const cache = join(dir, 'cache-e');
    const gone = join(dir, 'gone-workflows.ts');
    await writeFile(gone, 'export async function gone(): Promise<number> {\n  return 2;\n}\n');
    await cachedWorkflowBundle(gone, cache, logger);
    const [goneBundle] = await readdir(cache);
    await rm(gone); // the clone whose workflows these were was removed
    await cachedWorkflowBundle(workflows, cache, logger);
    const [current] = (await readdir(cache)).filter((name) => name !== goneBundle);
    const text = await readFile(join(cache, current), 'utf8');
    // the same workflows' bundle by an older bundler, left by the SDK's upgrade
    const older = 'workflow-bundle-0123456789abcdef.js';
    await writeFile(join(cache, older), text.replace(/@temporalio\/worker@[^ ]+/, '@temporalio/worker@0.0.1'));
    await writeFile(join(cache, 'notes.txt'), 'not a bundle\n');

    await writeFile(helper, "export const greeting = 'good evening';\n");
    expect((await cachedWorkflowBundle(workflows, cache, logger)).reused).toBe(false);
    expect((await readdir(cache)).sort()).toEqual([current, 'notes.txt'].sort());
  });

  it('is rebuilt when a new file changes what an import resolves to, or a file it read is removed', async () => {
    const cache = join(dir, 'cache-d');
    const folder = join(dir, 'resolving');
    await mkdir(join(folder, 'words'), { recursive: true });
    await writeFile(join(folder, 'words', 'index.ts'), "export const word = 'from the folder';\n");
    const entry = join(folder, 'workflows.ts');
    await writeFile(
      entry,
      "import { word } from './words';\nexport async function say(): Promise<string> {\n  return word;\n}\n",
    );
    expect((await cachedWorkflowBundle(entry, cache, logger)).code).toContain("'from the folder'");
    expect((await cachedWorkflowBundle(entry, cache, logger)).reused).toBe(true);

    // './words' now resolves to words.ts, a path the first build looked for and did not find
    await writeFile(join(folder, 'words.ts'), "export const word = 'from the file';\n");
    const shadowed = await cachedWorkflowBundle(entry, cache, logger);
    expect(shadowed.reused).toBe(false);
    expect(shadowed.code).toContain("'from the file'");

    await rm(join(folder, 'words.ts'));
    const restored = await cachedWorkflowBundle(entry, cache, logger);
    expect(restored.reused).toBe(false);
    expect(restored.code).toContain("'from the folder'");
  });

  it('keeps one bundle per workflows file in a shared store', async () => {
    const cache = join(dir, 'cache-c');
    const other = join(dir, 'other-workflows.ts');
    await writeFile(other, 'export async function other(): Promise<number> {\n  return 1;\n}\n');
    const first = await cachedWorkflowBundle(workflows, cache, logger);
    await cachedWorkflowBundle(other, cache, logger);
    expect(await cachedWorkflowBundle(workflows, cache, logger)).toEqual({ code: first.code, reused: true });
    expect(await readdir(cache)).toHaveLength(2);
  });

  it("logs webpack's report of a build at debug, not info, and a failed build's at error", async () => {
    const entries: LogEntry[] = [];
    const recording = new DefaultLogger('TRACE', (entry) => entries.push(entry));
    await cachedWorkflowBundle(workflows, join(dir, 'cache-logged'), recording);
    const report = entries.find((entry) => /compiled successfully/.test(entry.message));
    expect(report?.level).toBe('DEBUG');
    expect(entries.filter((entry) => entry.level === 'INFO').map((entry) => entry.message)).toEqual([
      'Workflow bundle created',
    ]);

    const broken = join(dir, 'broken-workflows.ts');
    await writeFile(broken, "import { nothing } from './no-such-file';\nexport const x = nothing;\n");
    entries.length = 0;
    await expect(cachedWorkflowBundle(broken, join(dir, 'cache-broken'), recording)).rejects.toThrow(/Webpack/);
    expect(entries.find((entry) => entry.level === 'ERROR')?.message).toContain('no-such-file');
  });

  it('still gives a bundle when the store cannot be written', async () => {
    const notAFolder = join(dir, 'a-file');
    await writeFile(notAFolder, '');
    const bundle = await cachedWorkflowBundle(workflows, join(notAFolder, 'cache'), logger);
    expect(bundle.reused).toBe(false);
    expect(bundle.code).toContain('greet');
  });
});
