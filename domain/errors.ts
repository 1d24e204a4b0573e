/**
 * Typed failures. Each class name becomes the Temporal failure `type`, and the workflow lists
 * the non-retryable ones in `NON_RETRYABLE_ERROR_TYPES`, so retrying never repeats a failure
 * that more attempts cannot fix.
 */

/** Thrown when run parameters fail the params schema (before any work starts). */
export class InvalidParamsError extends Error {
  override name = 'InvalidParamsError';
}

/** Thrown when no input file is found, or a file cannot be read as Parquet/CSV at all. */
export class InputFileError extends Error {
  override name = 'InputFileError';
}

/**
 * An input folder holding data files segflow does not read (Excel, archives, ...): leaving them
 * out would leave out their rows. Temporal sees an InputFileError (the name is inherited); code
 * that must tell it apart (a reproduction) checks the class.
 */
export class UnreadInputFilesError extends InputFileError {
  constructor(
    message: string,
    /** The files, absolute paths. */
    readonly files: string[],
  ) {
    super(message);
  }
}

/**
 * A contact-log mapping's dateFormat that reads under half of the log's days: not how the log
 * writes them. Temporal sees an InvalidParamsError (the name is inherited), not retried.
 */
export class ContactDateFormatError extends InvalidParamsError {}

/** Thrown when input files lack required columns of the usage contract. */
export class SchemaContractError extends Error {
  override name = 'SchemaContractError';
}

/** Thrown when too many rows break the contract, or none are left to model. */
export class DataQualityError extends Error {
  override name = 'DataQualityError';
}

/** Thrown when the audit log's disk is full: retried, as space may be freed meanwhile. */
export class AuditLogFullError extends Error {
  override name = 'AuditLogFullError';
}

/**
 * Thrown when a stage finds no space left on the disk of the work folder or the store: retried,
 * as space may be freed meanwhile, and named so the operator knows which folder and what to free.
 */
export class DiskFullError extends Error {
  override name = 'DiskFullError';
}

/** Thrown when the snapshot store cannot be written (permissions, path escapes the store). */
export class SnapshotStoreError extends Error {
  override name = 'SnapshotStoreError';
}

/**
 * Thrown when a published snapshot a run builds on (the month before's latest, which segment ids
 * are matched to, migration counted from and campaigns measured against; a dispatch list to
 * measure) is missing, damaged, or no longer matches what was recorded of it: retrying cannot
 * bring it back. The message names the file, why, and what to do ('segflow audit verify').
 */
export class SnapshotIntegrityError extends Error {
  override name = 'SnapshotIntegrityError';
}

/**
 * Thrown when a published snapshot a run builds on cannot be read for another reason than its
 * absence (EACCES, EIO, a stale network mount): retried, as a storage glitch may pass.
 */
export class StoreReadError extends Error {
  override name = 'StoreReadError';
}

/**
 * Thrown when segflow's own source files changed on disk under a running worker
 * (activities/code-identity.ts): retrying in the same process runs the same mixed code.
 */
export class CodeChangedError extends Error {
  override name = 'CodeChangedError';
}

/** A write that failed for want of space (or quota): by errno from Node, by message from DuckDB. */
export function isStoreFull(error: unknown): boolean {
  return (
    ['ENOSPC', 'EDQUOT'].includes((error as NodeJS.ErrnoException).code ?? '') ||
    /No space left|quota exceeded/i.test(error instanceof Error ? error.message : '')
  );
}

/** A file or folder the process may not read, enter or write (by errno). */
export function isPermissionDenied(error: unknown): boolean {
  return ['EACCES', 'EPERM'].includes((error as NodeJS.ErrnoException).code ?? '');
}

/**
 * A store write that retrying cannot fix until an operator frees space, fixes permissions or the
 * store's path (a file where a folder of it should be: ENOTDIR, which a worker retried for five
 * minutes): by errno from Node, by message from DuckDB (whose errors carry no code).
 */
export function isStoreWriteFailure(error: unknown): boolean {
  const code = (error as NodeJS.ErrnoException).code ?? '';
  const message = error instanceof Error ? error.message : '';
  return (
    isStoreFull(error) ||
    isPermissionDenied(error) ||
    code === 'EROFS' ||
    code === 'ENOTDIR' ||
    /Read-only file system|Permission denied|Operation not permitted|Not a directory/i.test(message)
  );
}

export const NON_RETRYABLE_ERROR_TYPES = [
  'InvalidParamsError',
  'InputFileError',
  'SchemaContractError',
  'DataQualityError',
  'SnapshotStoreError',
  'SnapshotIntegrityError',
  'CodeChangedError',
] as const;

/** Thrown (exit code 2) when run parameters are invalid: reported before anything starts. */
export class UsageError extends Error {
  override name = 'UsageError';
}

/** Thrown (exit code 3) when the Temporal server cannot be reached. */
export class InfrastructureError extends Error {
  override name = 'InfrastructureError';
}

/**
 * The innermost cause of a failure chain (WorkflowFailedError -> ActivityFailure -> ApplicationFailure)
 * with its type: an ApplicationFailure's `type` carries the activity's error class name, any other
 * error gives its own name. Plain property reads only, so the workflow sandbox and the client share it.
 */
export function innermostFailure(error: unknown): { type: string; message: string } {
  let cause: unknown = error;
  while (cause instanceof Error && cause.cause instanceof Error) cause = cause.cause;
  if (!(cause instanceof Error)) return { type: 'unknown', message: String(cause) };
  const failureType = (cause as { type?: unknown }).type;
  return {
    type: typeof failureType === 'string' && failureType !== '' ? failureType : cause.name,
    message: cause.message,
  };
}
