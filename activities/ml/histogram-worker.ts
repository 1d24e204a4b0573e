/** Worker-thread entry of the histogram helper (histograms.ts ThreadCounter). */
import { workerData } from 'node:worker_threads';
import { serveHistograms, type HistogramHelperData } from './histograms';

serveHistograms(workerData as HistogramHelperData);
