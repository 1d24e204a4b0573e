import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { REPO_ROOT } from '../worker/config';

/** Path of the Temporal CLI: TEMPORAL_CLI, PATH, or the project-local install (installing it if needed). */
export function temporalCliPath(): string {
  return execFileSync('bash', [join(REPO_ROOT, 'scripts', 'ensure-temporal.sh')], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] }).trim();
}

/** Custom search attributes segflow sets on its runs; registered when segflow starts a dev server. */
export const SEARCH_ATTRIBUTES = {
  SegflowMonth: 'Keyword',
  SegflowParamsHash: 'Keyword',
} as const;
