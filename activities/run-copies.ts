/**
 * The run's own copies of files a schedule or an analyst may write anew at their paths while the
 * run goes on (the labels file, the mapping), in its folder beside the run database: the load
 * reads them and publishing copies them into the snapshot, so the snapshot holds the bytes the run
 * read. Named by their content: a retried load's copy of other bytes is another file.
 */
import { dirname, extname, join } from 'node:path';
import { isCsvPath } from '../data/contract';

/** A copy's name, so it is read as the file at `path` was (isCsvPath: .csv or .tsv, else Parquet); a snapshot's too. */
export function snapshotCopyName(stem: string, path: string): string {
  return isCsvPath(path) ? `${stem}${extname(path).toLowerCase()}` : `${stem}.parquet`;
}

/** The labels file's copy. */
export function labelsRunCopy(dbPath: string, path: string, sha256: string): string {
  return join(dirname(dbPath), snapshotCopyName(`labels-${sha256.slice(0, 16)}`, path));
}

/** The mapping's copy. */
export function mappingRunCopy(dbPath: string, sha256: string): string {
  return join(dirname(dbPath), `mapping-${sha256.slice(0, 16)}.json`);
}
