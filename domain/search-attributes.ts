import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';

/**
 * Custom search attributes on segflow runs, so `temporal workflow list --query` and the Web UI
 * find runs by month, parameters and snapshot version. A server must have them registered
 * (segflow's dev server and tests do; `segflow server` prints the command for others).
 */
export const SEGFLOW_MONTH = defineSearchAttributeKey('SegflowMonth', SearchAttributeType.KEYWORD);
export const SEGFLOW_PARAMS_HASH = defineSearchAttributeKey('SegflowParamsHash', SearchAttributeType.KEYWORD);
export const SEGFLOW_SNAPSHOT_VERSION = defineSearchAttributeKey('SegflowSnapshotVersion', SearchAttributeType.INT);

export const SEGFLOW_SEARCH_ATTRIBUTES = [SEGFLOW_MONTH, SEGFLOW_PARAMS_HASH, SEGFLOW_SNAPSHOT_VERSION];

/** Set by Temporal on runs a schedule starts: the time the run was scheduled for. */
export const TEMPORAL_SCHEDULED_START_TIME = defineSearchAttributeKey(
  'TemporalScheduledStartTime',
  SearchAttributeType.DATETIME,
);

/** Set by Temporal on runs a schedule starts: the schedule's id. */
export const TEMPORAL_SCHEDULED_BY_ID = defineSearchAttributeKey('TemporalScheduledById', SearchAttributeType.KEYWORD);
