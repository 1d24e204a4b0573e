/** Worker-thread entry: trains the ensemble or scores rows, whichever each request asks (typed arrays transferred back). */
import { scoreRows, trainEnsemble, type EnsembleRequest } from './ensemble';
import { mlCodeHash } from './code-hash';
import { answerRequests } from './thread-requests';

/** The model code as this thread compiled it, as it started. */
const codeHash = mlCodeHash();

answerRequests((request: EnsembleRequest) => {
  if ('codeHash' in request) return { result: codeHash };
  if ('train' in request) return { result: trainEnsemble(request.train) };
  const scored = scoreRows(request.score);
  return {
    result: scored,
    transfer: [scored.probabilities, scored.reasonFeatures, scored.reasonContributions, scored.alsoProbabilities].map(
      (array) => array.buffer as ArrayBuffer,
    ),
  };
});
