import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';

/**
 * Code for `new Worker(code, { eval: true })` that runs a TypeScript module in the new thread.
 * Node 20 does not apply a loader given in execArgv to a thread's entry module: the thread
 * registers tsx itself, then imports the module.
 */
export function threadBootstrap(module: URL): string {
  const tsxRoot = dirname(createRequire(import.meta.url).resolve('tsx/package.json'));
  const tsx = pathToFileURL(join(tsxRoot, 'dist', 'esm', 'api', 'index.mjs')).href;
  return `import(${JSON.stringify(tsx)}).then((tsx) => { tsx.register(); return import(${JSON.stringify(module.href)}); })`;
}
