/**
 * The hash of the code each stage cache's keys name now, by stage: what `segflow cache list` and
 * `cache prune --older-code` compare a stored artifact's recorded code with (store/stage-cache.ts
 * artifactCode). Kept beside the keys' own modules, which hash the same code for their keys.
 */
import { REASONS_STAGE, reasonsCodeHash } from './dispatch-reasons';
import { ENSEMBLE_STAGE, ensembleCodeHash, SCORES_STAGE, scoringCodeHash, TREE_STAGE } from './ensemble-cache';
import { clusterCodeHash, SEGMENTS_STAGE } from './segments-cache';
import { PLAN_STAGE } from './plan-cache';
import { LOAD_FEATURES_STAGE } from './stage-cache';
import { stageCodeHash } from './stage-code';
import { USAGE_MONTH_STAGE } from './usage-months';
import { FEATURE_MONTH_STAGE } from './window-cache';

export function currentCacheCode(): Record<string, string> {
  return {
    [PLAN_STAGE]: stageCodeHash(),
    [LOAD_FEATURES_STAGE]: stageCodeHash(),
    [USAGE_MONTH_STAGE]: stageCodeHash(),
    [FEATURE_MONTH_STAGE]: stageCodeHash(),
    [SEGMENTS_STAGE]: clusterCodeHash(),
    [TREE_STAGE]: scoringCodeHash(),
    [SCORES_STAGE]: scoringCodeHash(),
    [ENSEMBLE_STAGE]: ensembleCodeHash(),
    [REASONS_STAGE]: reasonsCodeHash(),
  };
}
