/** Resolves on the first Ctrl-C or termination signal, so long-running commands stop what they started. */
export function untilInterrupted(): Promise<void> {
  return new Promise((resolveStop) => {
    const stop = () => resolveStop();
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
}
