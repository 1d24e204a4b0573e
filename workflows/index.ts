// The worker bundles this file: every workflow segflow runs is exported here.
export { monthlySegmentation, progressQuery } from './monthly-segmentation';
