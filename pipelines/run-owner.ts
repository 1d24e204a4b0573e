import type { Client, ScheduleDescription } from '@temporalio/client';
import type { StoreConfig } from '../store/layout';
import { storeKey } from '../worker/config';

/**
 * The memo keys naming the store (its real path, as workers name it) a run or schedule was started
 * from, and the SEGFLOW_HOME a schedule was created from: several stores may share a task queue,
 * and a command of one must tell their runs and schedules from its own.
 */
const STORE_MEMO = 'segflowStore';
const HOME_MEMO = 'segflowHome';

/** The memo entry naming `store`, for a run's or a schedule's memo. */
export function storeMemo(store: StoreConfig): Record<string, string> {
  return { [STORE_MEMO]: storeKey(store) };
}

/** The memo entries a schedule is created with: its store and, when set, SEGFLOW_HOME. */
export function scheduleMemo(store: StoreConfig, home: string | undefined): Record<string, string> {
  return { ...storeMemo(store), ...(home ? { [HOME_MEMO]: home } : {}) };
}

/** The store a run's or schedule's memo names; undefined for one started before segflow recorded it. */
export function storeOfMemo(memo: Record<string, unknown> | undefined): string | undefined {
  const store = memo?.[STORE_MEMO];
  return typeof store === 'string' ? store : undefined;
}

/**
 * Whose a schedule is: the task queue its runs go to (its action's), and the store and
 * SEGFLOW_HOME that created it, from its memo (undefined for one created before segflow recorded
 * them, or outside segflow).
 */
export function scheduleOwner(description: Pick<ScheduleDescription, 'action' | 'memo'>): {
  taskQueue?: string;
  store?: string;
  home?: string;
} {
  const { action, memo } = description;
  const home = memo?.[HOME_MEMO];
  return {
    taskQueue: action?.type === 'startWorkflow' ? action.taskQueue : undefined,
    store: storeOfMemo(memo),
    home: typeof home === 'string' ? home : undefined,
  };
}

/** scheduleOwner of the schedule `scheduleId` as Temporal describes it now; undefined when it cannot be described (none). */
export function ownerOfSchedule(
  client: Client,
  scheduleId: string,
): Promise<ReturnType<typeof scheduleOwner> | undefined> {
  return client.schedule
    .getHandle(scheduleId)
    .describe()
    .then(scheduleOwner)
    .catch(() => undefined);
}
