/** The worker side of thread.ts `WorkerThread`: kept apart so a worker does not load the activity context. */
import { parentPort, type Transferable } from 'node:worker_threads';

/** Answers every message from the parent thread with `answer(message)`, moving the buffers it names. */
export function answerRequests<I>(answer: (input: I) => { result: unknown; transfer?: Transferable[] }): void {
  const port = parentPort;
  if (!port) throw new Error('answerRequests: not in a worker thread');
  port.on('message', (input: I) => {
    const { result, transfer } = answer(input);
    port.postMessage(result, transfer ?? []);
  });
}
