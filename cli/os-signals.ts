/**
 * Resolves on the first Ctrl-C, termination signal or hang-up (the terminal closed), so
 * long-running commands stop what they started: a dev server they started runs in a process
 * group of its own, which neither reaches.
 */
export function untilInterrupted(): Promise<void> {
  return new Promise((resolveStop) => {
    const stop = () => resolveStop();
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
    process.once('SIGHUP', stop);
  });
}
