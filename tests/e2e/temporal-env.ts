import { TestWorkflowEnvironment } from '@temporalio/testing';
import { bundleWorkflowCode, Runtime, DefaultLogger, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { searchAttributeFlags, temporalCliPath } from '../../cli/temporal-cli';
import { WORKFLOWS_PATH } from '../../worker';

let runtimeInstalled = false;

/**
 * A real Temporal dev server from the project's CLI (never a download). The SDK allows the
 * server 5 s to come up, which a loaded 2-core machine can miss, so it is tried a few times.
 */
export async function startTemporal(): Promise<TestWorkflowEnvironment> {
  if (!runtimeInstalled) {
    Runtime.install({ logger: new DefaultLogger('WARN') });
    runtimeInstalled = true;
  }
  const path = temporalCliPath();
  let lastError: unknown;
  for (let attempt = 1; attempt <= 3; attempt++) {
    try {
      return await TestWorkflowEnvironment.createLocal({
        server: {
          executable: { type: 'existing-path', path },
          ui: false,
          extraArgs: searchAttributeFlags(),
        },
      });
    } catch (error) {
      lastError = error;
    }
  }
  throw lastError;
}

let bundle: Promise<WorkflowBundleWithSourceMap> | undefined;

/** The workflow bundle, built once per test process. */
export function workflowBundle(): Promise<WorkflowBundleWithSourceMap> {
  bundle ??= bundleWorkflowCode({ workflowsPath: WORKFLOWS_PATH, logger: new DefaultLogger('WARN') });
  return bundle;
}
