import { describe, expect, it } from 'vitest';
import { withUserNotes } from '../../activities/publish';
import type { FeatureUse } from '../../activities/churn-features';

describe("the manifest's churn features", () => {
  it("carry the note of a user's column read with one, as the report shows it; other features none", () => {
    const features: FeatureUse[] = [
      { name: 'device_age', source: 'user', type: 'numeric', missingShare: 0.01, importance: 0.2 },
      { name: 'arpu', source: 'derived', type: 'numeric', missingShare: 0, importance: 0.5 },
      { name: 'Contract', source: 'user', type: 'categorical', missingShare: 0, importance: 0.3 },
    ];
    const noted = withUserNotes(features, [
      { name: 'device_age', note: "3 values not numbers taken as missing: 'n/a'" },
      // a user column named like a derived feature: the derived one carries no note of it
      { name: 'arpu', note: 'not this one' },
      { name: 'Contract' },
    ]);
    expect(noted).toEqual([
      { ...features[0], note: "3 values not numbers taken as missing: 'n/a'" },
      features[1],
      features[2],
    ]);
  });
});
