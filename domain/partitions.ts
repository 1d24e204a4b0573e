/** Most partitions one run may be split into (one per worker is the useful number). */
export const MAX_PARTITIONS = 64;
