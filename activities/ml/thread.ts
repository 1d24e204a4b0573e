import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Worker, type Transferable } from 'node:worker_threads';
import { checkpoint } from '../context';

/** How often the waiting activity heartbeats and checks for cancellation. */
const POLL_MS = 1_000;

/**
 * Runs a TypeScript worker module in a worker thread with `input` as its workerData and resolves
 * with the first message it posts. CPU-bound model code blocks its own thread only: the activity
 * keeps heartbeating meanwhile, and a cancelled run terminates the thread.
 */
export async function runInThread<T>(module: URL, input: unknown, transfer: Transferable[], stage: string): Promise<T> {
  // Node 20 does not apply a loader given in execArgv to a thread's entry module: the thread
  // registers tsx itself, then imports the module
  const tsxRoot = dirname(createRequire(import.meta.url).resolve('tsx/package.json'));
  const tsx = pathToFileURL(join(tsxRoot, 'dist', 'esm', 'api', 'index.mjs')).href;
  const bootstrap = `import(${JSON.stringify(tsx)}).then((tsx) => { tsx.register(); return import(${JSON.stringify(module.href)}); })`;
  const worker = new Worker(bootstrap, { eval: true, workerData: input, transferList: transfer, execArgv: [] });
  const result = new Promise<T>((resolve, reject) => {
    worker.once('message', resolve);
    worker.once('error', reject);
    worker.once('exit', (code) =>
      reject(new Error(`${stage}: worker thread exited with code ${code} before a result`)),
    );
  });
  // a cancelled wait terminates the thread, which rejects `result` with nobody listening any more
  result.catch(() => undefined);
  const waiting = Symbol('waiting');
  try {
    for (;;) {
      const outcome = await Promise.race([result, new Promise((r) => setTimeout(() => r(waiting), POLL_MS))]);
      if (outcome !== waiting) return outcome as T;
      await checkpoint({ stage });
    }
  } finally {
    await worker.terminate();
  }
}
