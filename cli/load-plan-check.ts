import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { DataQualityError, InputFileError, InvalidParamsError, SchemaContractError } from '../domain/errors';
import type { RunParams } from '../domain/params';
import { isCsvPath } from '../data/contract';

/**
 * What the check found: the error the run's plan stops on (one retrying cannot fix), that it passed,
 * why it could not tell (the first line of what went wrong: the run's own plan then says it), or
 * that it read nothing, the input holding more CSV than CHECK_MAX_CSV_BYTES (the caller notes it).
 */
export type LoadPlanCheck = { stop: Error } | { passed: true } | { unchecked: string } | { tooMuchCsv: true };

/**
 * CSV input above this is not read by the check: it would read a first run's input a second time
 * (the run's plan reads it again), seconds at 1 GB and most of a minute for the 3.6 GB extract of
 * docs/reuse.md with `"features": "auto"`. Parquet is read from its metadata.
 */
export const CHECK_MAX_CSV_BYTES = 1024 ** 3;

/** CHECK_MAX_CSV_BYTES in words, for the callers' notes. */
export const CHECK_MAX_CSV = `${CHECK_MAX_CSV_BYTES / 1024 ** 3} GB of CSV`;

/** The bytes of the CSV files (.csv, .tsv) among `files`; a file gone since counts nothing. */
async function csvBytesOf(files: readonly string[]): Promise<number> {
  let total = 0;
  for (const file of files) if (isCsvPath(file)) total += (await stat(file).catch(() => ({ size: 0 }))).size;
  return total;
}

/**
 * The bytes of the CSV files the load finds under `input`, as it lists them (links followed;
 * hidden, `_` and other files passed over; every month folder); 0 when the listing fails (the
 * check then says why).
 */
export async function csvBytesUnder(input: string, dataRoot?: string): Promise<number> {
  const { findInputFiles } = await import('../activities/load');
  const listed = await findInputFiles(input, '0001-01', '9999-12', dataRoot).catch(() => ({ files: [] }));
  return csvBytesOf(listed.files);
}

/**
 * The input error of a file or folder this user may not read: the worker (another user, another
 * machine's mount) may, so a check here notes it and leaves it to the run's own load.
 */
export function deniedToThisUser(error: unknown): error is InputFileError {
  return error instanceof InputFileError && /permission denied/i.test(error.message);
}

/**
 * Plans the load as a run's first activity does (activities/load.ts planLoad: the input listed,
 * each file's columns against the contract and the mapping, the labels file against the input's
 * ids, the user's columns typed), before anything starts, for `run` and `schedule create` to refuse
 * an input the run would stop on. The plan's run folder is a scratch folder, removed after; it takes
 * the reading a run's plan stored of the same files (a rerun's input files are taken on their stamps, neither read nor hashed; signed
 * with any key or none: a worker's plan takes only its own key's, and reads the input otherwise) and
 * stores none (planLoad's `reuse` 'check'; `handOver` keeps one in memory): nothing is stored or recorded (a reading taken has its
 * last use refreshed, as every reuse has). `files`: read these instead of listing the input
 * (schedule create's month). Over CHECK_MAX_CSV_BYTES of CSV among them (or under the input) it
 * reads nothing (`tooMuchCsv`). The contact log is not read here:
 * `run` reads it before (validatedParams), and a schedule's is written anew before each run.
 */
export async function checkLoadPlan(
  params: RunParams,
  options: {
    /** The store whose stored readings the check may take (SEGFLOW_STORE); none: it reads the input. */
    storeDir?: string;
    dataRoot?: string;
    /** The run's partitions: they are part of the stored reading's key. */
    partitions?: number;
    /**
     * The worker is this process, as with `run --local`: a folder this user may not read stops its
     * plan too. Otherwise the worker (another user, another machine's mount) may read it.
     */
    workerIsThisUser?: boolean;
    /**
     * The run is planned later in this process (`run --local`): a reading the check makes is kept
     * for its plan, which then reads the input no second time (planLoad's 'check-local').
     */
    handOver?: boolean;
    files?: string[];
  } = {},
): Promise<LoadPlanCheck> {
  const csvBytes = options.files
    ? await csvBytesOf(options.files)
    : await csvBytesUnder(params.input, options.dataRoot);
  if (csvBytes > CHECK_MAX_CSV_BYTES) return { tooMuchCsv: true };
  const { planLoad } = await import('../activities/load');
  // the contact log's parameters (contacts and every contacts… setting of how it is read) and the
  // list it reports on (dispatched), each refused by the parameters' check without the log
  const planned = Object.fromEntries(
    Object.entries(params).filter(([name]) => !name.startsWith('contacts') && name !== 'dispatched'),
  );
  const scratch = await mkdtemp(join(tmpdir(), 'segflow-plan-check-'));
  try {
    await planLoad(
      { storeDir: options.storeDir ?? join(scratch, 'store'), workDir: scratch, dataRoot: options.dataRoot },
      { workflowId: 'load-plan-check', runId: basename(scratch) },
      planned,
      options.partitions ?? 1,
      options.files && { files: options.files },
      options.handOver ? 'check-local' : 'check',
    );
    return { passed: true };
  } catch (error) {
    if (!options.workerIsThisUser && deniedToThisUser(error))
      return { unchecked: error.message.split('\n')[0].slice(0, 200) };
    if (
      error instanceof SchemaContractError ||
      error instanceof InputFileError ||
      error instanceof InvalidParamsError ||
      error instanceof DataQualityError
    )
      return { stop: error };
    return { unchecked: (error instanceof Error ? error.message : String(error)).split('\n')[0].slice(0, 200) };
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}
