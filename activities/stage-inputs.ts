/**
 * What the stages after the load take from its summary besides the run database: the worker's
 * activities and `snapshots reproduce` both build them here, so a reproduction recomputes with the
 * same inputs as the run it checks (the user's own features included).
 */
import type { FeatureInput } from './features';
import type { LoadSummary } from './load';
import type { UserFeature } from './user-features';

/** The features stage's view of the input: its format, contract columns and the user's own features. */
export function featureInput(load: LoadSummary): FeatureInput {
  return { format: load.format, inputColumns: load.inputColumns, userFeatures: load.userFeatures };
}

/** The user's features as the churn stage takes them, and whether the mapping opened the feature set. */
export function churnUserInput(load: LoadSummary): { features: UserFeature[]; openFeatureSet: boolean } {
  return { features: load.userFeatures, openFeatureSet: load.openFeatureSet };
}
