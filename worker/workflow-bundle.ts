/**
 * The workflow bundle a worker loads. Webpack bundles workflows/ at every worker start, which a
 * user's `segflow run --local` waits for each time (docs/benchmark.md, "Session 27"); the last
 * bundle is kept under $SEGFLOW_HOME and loaded again while everything it was built from is
 * unchanged. What that is, webpack says itself, as its own watch mode uses it: every file the
 * build read (sources, the SDK's compiled files, package.json files), kept with its sha256, and
 * every path it looked for and did not find (a file created there could change how an import
 * resolves). The bundler's packages are named by version in the stored file's header. Storing a
 * bundle removes the ones no worker would load again.
 */
import { statSync } from 'node:fs';
import { mkdir, readdir, readFile, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { bundleWorkflowCode, type Logger, type WorkflowBundle } from '@temporalio/worker';
import writeFileAtomic from 'write-file-atomic';
import { sha256 } from '../store/hashing';

/** The bundler's packages, resolved where @temporalio/worker resolves them. */
const bundlerRequire = createRequire(createRequire(import.meta.url).resolve('@temporalio/worker'));
const BUNDLER = ['webpack', 'swc-loader', '@swc/core', 'source-map-loader']
  .map((name) => `${name}@${(bundlerRequire(`${name}/package.json`) as { version: string }).version}`)
  .join(' ');
const SDK = `@temporalio/worker@${(createRequire(import.meta.url)('@temporalio/worker/package.json') as { version: string }).version}`;
const BUNDLE_PREFIX = 'workflow-bundle-';

/** What a stored bundle was built from: its first line. */
interface BundleInputs {
  bundler: string;
  workflowsPath: string;
  /** Every file the build read, with its content's sha256. */
  files: Record<string, string>;
  /** Paths the build looked for and did not find as files. */
  missing: string[];
}

/**
 * The bundle of the workflows at `workflowsPath`: the one stored in `cacheDir` when it is
 * current, else a new one, stored for the next start. A store that cannot be written (a
 * read-only home) only costs the next start its bundling.
 */
export async function cachedWorkflowBundle(
  workflowsPath: string,
  cacheDir: string,
  logger?: Logger,
): Promise<WorkflowBundle & { reused: boolean }> {
  const bundler = `${SDK} ${BUNDLER}`;
  // one file per bundler and workflows' path: two clones (or versions) sharing a home keep theirs
  const key = sha256(`${bundler}\n${workflowsPath}`).slice(0, 16);
  const path = join(cacheDir, `${BUNDLE_PREFIX}${key}.js`);
  const stored = await readStoredBundle(path);
  if (
    stored?.inputs?.bundler === bundler &&
    stored.inputs.workflowsPath === workflowsPath &&
    (await unchanged(stored.inputs))
  )
    return { code: stored.code, reused: true };

  let read: { files: string[]; missing: string[] } = { files: [], missing: [] };
  const { code } = await bundleWorkflowCode({
    workflowsPath,
    ...(logger ? { logger: quietStats(logger) } : {}),
    webpackConfigHook: (config) => ({
      ...config,
      plugins: [
        ...(config.plugins ?? []),
        {
          apply: (compiler) =>
            compiler.hooks.afterCompile.tap('segflow-bundle-inputs', (compilation) => {
              read = { files: [...compilation.fileDependencies], missing: [...compilation.missingDependencies] };
            }),
        },
      ],
    }),
  });
  try {
    // files only: the SDK's entry point is a virtual module, made from the workflows' path and the
    // SDK's version (both in the key), and the resolver lists the folders it read as well
    const onDisk = read.files.filter(isFile);
    const files = Object.fromEntries(
      await Promise.all(onDisk.map(async (file) => [file, sha256(await readFile(file))] as const)),
    );
    const inputs: BundleInputs = { bundler, workflowsPath, files, missing: read.missing };
    await mkdir(cacheDir, { recursive: true });
    // written aside and renamed: a worker starting at the same time reads a whole bundle or none
    await writeFileAtomic(path, `// ${JSON.stringify(inputs)}\n${code}`);
    await removeStaleBundles(cacheDir, path, workflowsPath);
  } catch (error) {
    logger?.warn('could not store the workflow bundle for the next start', { error: (error as Error).message });
  }
  return { code, reused: false };
}

/**
 * `logger` with webpack's report of a successful build (every module bundled, a long text the SDK
 * logs at info) at debug: a worker's normal start showed it as one huge log line. A build with
 * errors is logged at error by the SDK and one with warnings says so at info: both stay as they are.
 */
function quietStats(logger: Logger): Logger {
  return {
    log: (level, message, meta) => logger.log(level, message, meta),
    trace: (message, meta) => logger.trace(message, meta),
    debug: (message, meta) => logger.debug(message, meta),
    info: (message, meta) =>
      /^webpack [\d.]+ compiled successfully\b/m.test(message)
        ? logger.debug(message, meta)
        : logger.info(message, meta),
    warn: (message, meta) => logger.warn(message, meta),
    error: (message, meta) => logger.error(message, meta),
  };
}

/**
 * Removes the stored bundles besides `current` that no worker would load again: another bundler's
 * bundle of the same workflows (the SDK was upgraded), a bundle of workflows that are gone (a
 * removed clone that shared the home), or one without a readable header.
 */
async function removeStaleBundles(cacheDir: string, current: string, workflowsPath: string): Promise<void> {
  for (const name of await readdir(cacheDir)) {
    const path = join(cacheDir, name);
    if (!name.startsWith(BUNDLE_PREFIX) || !name.endsWith('.js') || path === current) continue;
    const stored = await readStoredBundle(path);
    if (stored === null) continue;
    const { inputs } = stored;
    if (!inputs || inputs.workflowsPath === workflowsPath || !isFile(inputs.workflowsPath))
      await rm(path, { force: true });
  }
}

/** A stored bundle: what it was built from (null without a readable first line) and its code; null when unreadable. */
async function readStoredBundle(path: string): Promise<{ inputs: BundleInputs | null; code: string } | null> {
  const text = await readFile(path, 'utf8').catch(() => null);
  if (text === null) return null;
  const newline = text.indexOf('\n');
  return { inputs: newline > 0 ? parseInputs(text.slice(0, newline)) : null, code: text.slice(newline + 1) };
}

function parseInputs(line: string): BundleInputs | null {
  if (!line.startsWith('// ')) return null;
  try {
    const inputs = JSON.parse(line.slice(3)) as BundleInputs;
    return typeof inputs.files === 'object' && Array.isArray(inputs.missing) ? inputs : null;
  } catch {
    return null;
  }
}

/** True when every file the build read holds the same bytes and no file stands where it found none. */
async function unchanged(inputs: BundleInputs): Promise<boolean> {
  const files = Object.entries(inputs.files);
  // a missed path names a file the resolver tried (a folder may stand there: './words' before words/index.ts)
  if (files.length === 0 || inputs.missing.some((path) => isFile(path))) return false;
  // whole reads: a few hundred small files, where hashFile's 1 MB streamed chunks took ~0.2 s more
  const current = await Promise.all(files.map(([file]) => readFile(file).catch(() => null)));
  return files.every(([, hash], index) => current[index] !== null && sha256(current[index]) === hash);
}

const isFile = (path: string) => statSync(path, { throwIfNoEntry: false })?.isFile() === true;
