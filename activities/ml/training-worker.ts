/** Worker-thread entry of boosting's helper thread (training-helper.ts ThreadHelper). */
import { workerData } from 'node:worker_threads';
import { serveTraining, type TrainingHelperData } from './training-helper';

serveTraining(workerData as TrainingHelperData);
