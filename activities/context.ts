import { Context } from '@temporalio/activity';

/** The running activity's context, or undefined when a function is called outside Temporal (tests). */
function currentContext(): Context | undefined {
  try {
    return Context.current();
  } catch {
    return undefined;
  }
}

/**
 * Records progress as a heartbeat (so a stuck worker is noticed) and stops the work if the run
 * was cancelled. Also yields to the event loop so heartbeats go out during CPU-bound loops.
 */
export async function checkpoint(details: { stage: string; done?: number; total?: number }): Promise<void> {
  const context = currentContext();
  if (context) {
    context.heartbeat(details);
    context.cancellationSignal.throwIfAborted();
  }
  await new Promise<void>((resolveNow) => setImmediate(resolveNow));
}
