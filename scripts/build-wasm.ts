/**
 * Compiles activities/ml/histogram-kernel.wat to the .wasm beside it (committed, so a worker
 * needs no compiler). Run after editing the .wat: `npx tsx scripts/build-wasm.ts`;
 * tests/unit/histograms.test.ts fails while the two differ.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import initWabt from 'wabt';

const KERNEL_SOURCE = new URL('../activities/ml/histogram-kernel.wat', import.meta.url);

/** The module's bytes, as wabt compiles the source (threads on: the memory is shared). */
export async function compileKernel(): Promise<Uint8Array> {
  const wabt = await initWabt();
  const module = wabt.parseWat(fileURLToPath(KERNEL_SOURCE), readFileSync(KERNEL_SOURCE, 'utf8'), { threads: true });
  try {
    // validated when a worker compiles it (WebAssembly.Module): wabt's own check ignores the threads feature
    return module.toBinary({}).buffer;
  } finally {
    module.destroy();
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const target = new URL('../activities/ml/histogram-kernel.wasm', import.meta.url);
  const bytes = await compileKernel();
  writeFileSync(target, bytes);
  console.log(`${fileURLToPath(target)}: ${bytes.length} bytes`);
}
