import { Worker, type Transferable } from 'node:worker_threads';
import { checkpoint } from '../context';
import { threadBootstrap } from './thread-bootstrap';

/** How often the waiting activity heartbeats and checks for cancellation. */
const POLL_MS = 1_000;

interface Pending {
  resolve: (answer: unknown) => void;
  reject: (error: unknown) => void;
}

/**
 * A worker thread running a TypeScript module that answers each message it receives with one
 * message, in order (the module calls thread-requests.ts `answerRequests`). CPU-bound model code
 * blocks its own thread only. Started before its first request is ready, its start-up (mostly
 * tsx compiling the module) overlaps other work.
 */
export class WorkerThread {
  readonly #worker: Worker;
  readonly #pending: Pending[] = [];

  constructor(module: URL, stage: string) {
    this.#worker = new Worker(threadBootstrap(module), { eval: true, execArgv: [] });
    this.#worker.on('message', (answer) => this.#pending.shift()?.resolve(answer));
    this.#worker.on('error', (error) => this.#failAll(error));
    this.#worker.on('exit', (code) =>
      this.#failAll(new Error(`${stage}: worker thread exited with code ${code} before answering`)),
    );
  }

  /** Posts `input` (moving the `transfer` buffers) and resolves with the thread's answer. */
  request<T>(input: unknown, transfer: Transferable[] = []): Promise<T> {
    const answer = new Promise<T>((resolve, reject) =>
      this.#pending.push({ resolve: resolve as (answer: unknown) => void, reject }),
    );
    // a request nobody waits for any more (the stage failed) rejects when its thread is terminated
    answer.catch(() => undefined);
    this.#worker.postMessage(input, transfer);
    return answer;
  }

  async terminate(): Promise<void> {
    await this.#worker.terminate();
  }

  #failAll(error: unknown): void {
    for (const pending of this.#pending.splice(0)) pending.reject(error);
  }
}

/**
 * Waits for `work` while the activity heartbeats every POLL_MS; throws once the run is cancelled
 * (the caller then terminates its threads, which rejects `work` with nobody listening any more).
 */
export async function whileHeartbeating<T>(work: Promise<T>, stage: string): Promise<T> {
  work.catch(() => undefined);
  const waiting = Symbol('waiting');
  for (;;) {
    const outcome = await Promise.race([work, new Promise((r) => setTimeout(() => r(waiting), POLL_MS))]);
    if (outcome !== waiting) return outcome as T;
    await checkpoint({ stage });
  }
}
