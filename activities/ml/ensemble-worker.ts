/** Worker-thread entry: trains the ensemble or scores rows, whichever each request asks (typed arrays transferred back). */
import { scoreRows, trainEnsemble, type EnsembleRequest } from './ensemble';
import { answerRequests } from './thread-requests';

answerRequests((request: EnsembleRequest) => {
  if ('train' in request) return { result: trainEnsemble(request.train) };
  const scored = scoreRows(request.score);
  return {
    result: scored,
    transfer: [scored.probabilities, scored.reasonFeatures, scored.reasonContributions, scored.alsoProbabilities].map(
      (array) => array.buffer as ArrayBuffer,
    ),
  };
});
