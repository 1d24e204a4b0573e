/** Worker-thread entry: runs one EnsembleTask from workerData and posts the result back (typed arrays transferred). */
import { parentPort, workerData } from 'node:worker_threads';
import { runEnsemble, type EnsembleTask } from './ensemble';

const result = runEnsemble(workerData as EnsembleTask);
const arrays = [
  result.scores,
  result.reasonFeatures,
  result.reasonContributions,
  result.holdoutUncalibrated,
  result.holdoutCalibrated,
];
parentPort?.postMessage(
  result,
  arrays.map((array) => array.buffer as ArrayBuffer),
);
