/**
 * Runs a full garbage collection when node exposes `gc` (bin/segflow starts the worker with
 * --expose-gc); does nothing without it. V8 frees unreachable array buffers only when its own heap
 * asks for it, and DuckDB's memory, which often comes next, is memory V8 does not see.
 */
export function collectGarbage(): void {
  (globalThis as { gc?: () => void }).gc?.();
}
