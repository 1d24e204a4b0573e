import { describe, expect, it } from 'vitest';
import { matchToPrevious } from '../../activities/ml/match-centroids';

describe('segment ids kept stable across months', () => {
  const previous = [
    { segmentId: 1, values: [10, 0] },
    { segmentId: 2, values: [0, 10] },
    { segmentId: 3, values: [0, 0] },
  ];

  it("gives each centroid the id of last month's nearest one, whatever order k-means found them in", () => {
    expect(
      matchToPrevious(
        [
          [0.2, 0.1],
          [9.5, 0.3],
          [0.1, 10.4],
        ],
        previous,
        [1, 1],
      ),
    ).toEqual([3, 1, 2]);
  });

  it('numbers a segment that moved too far, or is extra, after the largest previous id', () => {
    expect(
      matchToPrevious(
        [
          [0, 0],
          [10, 0],
          [0, 10],
          [30, 30],
        ],
        previous,
        [1, 1],
      ),
    ).toEqual([3, 1, 2, 4]);
    expect(matchToPrevious([[50, 50]], previous, [1, 1])).toEqual([4]);
  });

  it('measures distance in standard deviations', () => {
    // 3 units apart on a feature whose spread is 10 is close; on one whose spread is 1 it is not
    expect(matchToPrevious([[3, 0]], [{ segmentId: 7, values: [0, 0] }], [10, 1])).toEqual([7]);
    expect(matchToPrevious([[3, 0]], [{ segmentId: 7, values: [0, 0] }], [1, 1])).toEqual([8]);
  });
});
