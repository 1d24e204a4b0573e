import { InvalidArgumentError, type Command } from '@commander-js/extra-typings';
import { UsageError } from '../../domain/errors';
import {
  codeStatuses,
  listCache,
  pruneCache,
  type CachedArtifact,
  type CodeStatus,
  type HeldArtifact,
  type SnapshotPointing,
} from '../../store/stage-cache';
import { loadSigner } from '../../store/signing';
import { loadConfig } from '../../worker/config';
import { jsonOption as json } from '../json-option';
import { EXIT, fittedTable, output, wrappedNote } from '../options';

const DURATION_UNITS: Record<string, number> = { m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };
const SIZE_UNITS: Record<string, number> = { b: 1, k: 2 ** 10, m: 2 ** 20, g: 2 ** 30, t: 2 ** 40 };

/** "30d", "12h", "90m", "2w" in milliseconds. */
export function parseDuration(value: string): number {
  const match = /^(\d+(?:\.\d+)?)\s*([mhdw])$/i.exec(value.trim());
  if (!match) throw new InvalidArgumentError('must look like 30d, 12h, 90m or 2w');
  return Number(match[1]) * DURATION_UNITS[match[2].toLowerCase()];
}

/** "5GB", "800MB", "5GiB", "0" in bytes: KB, MB, GB, TB are 1024-based, as KiB, MiB, GiB, TiB. */
export function parseSize(value: string): number {
  const match = /^(\d+(?:\.\d+)?)\s*(?:([kmgt])i?)?(b)?$/i.exec(value.trim());
  if (!match || (match[2] && !match[3])) throw new InvalidArgumentError('must look like 5GB, 800MB, 5GiB or 0');
  return Math.floor(Number(match[1]) * SIZE_UNITS[(match[2] ?? 'b').toLowerCase()]);
}

/** Sizes are printed 1024-based, named so (MiB). */
function megabytes(bytes: number): string {
  return `${(bytes / 2 ** 20).toFixed(1)} MiB`;
}

/** Each stage's code hash now (activities/cache-code.ts), loaded only by the cache commands. */
async function currentCode(): Promise<Record<string, string>> {
  const { currentCacheCode } = await import('../../activities/cache-code');
  return currentCacheCode();
}

/** Artifacts with whose code stored them (codeStatuses), judged among `all` the store holds. */
function withCodeStatus(
  artifacts: CachedArtifact[],
  all: CachedArtifact[],
  code: Record<string, string>,
): (CachedArtifact & { codeIs: CodeStatus })[] {
  const statuses = codeStatuses(all, code);
  const byPath = new Map(all.map((a, i) => [a.path, statuses[i]]));
  return artifacts.map((a) => ({ ...a, codeIs: byPath.get(a.path) ?? 'unknown' }));
}

/** The snapshot `cache list` names for an artifact: the newest month's latest, else the newest. */
const namedSnapshot = (snapshots: SnapshotPointing[]) => snapshots.findLast((s) => s.latest) ?? snapshots.at(-1);

/**
 * The snapshots pointing at an artifact, in a few columns: the one a prune would matter to first
 * (the newest month's latest, as a plain `snapshots show` names it; else the newest), marked when
 * it is an experiment or being retired, and how many more (`cache list --json` names them all).
 */
function snapshotsText(snapshots: SnapshotPointing[]): string {
  const named = namedSnapshot(snapshots);
  if (named === undefined) return '-';
  const mark = named.retired ? ' (retired)' : named.experiment ? ' (x)' : '';
  return `${named.snapshot}${mark}${snapshots.length === 1 ? '' : ` +${snapshots.length - 1}`}`;
}

/**
 * Artifacts as rows for a table within TEXT_WIDTH columns (fittedTable): keys and signing keys cut
 * as git cuts hashes, times to the minute; the producing run, full keys and times are behind --json.
 */
const rows = (artifacts: (CachedArtifact & { codeIs: CodeStatus })[]) =>
  artifacts.map((a) => ({
    stage: a.stage,
    key: a.key.slice(0, 8),
    month: a.month,
    size: megabytes(a.bytes),
    code: a.codeIs === 'unknown' ? '?' : a.codeIs,
    signedBy: a.signedBy?.slice(0, 8) ?? '-',
    'last used (UTC)': a.lastUsedAt.slice(0, 16).replace('T', ' '),
    snapshots: snapshotsText(a.snapshots),
  }));

/** `segflow cache list | prune`: the stored stage outputs runs reuse (docs/reuse.md). */
export function registerCache(program: Command): void {
  const cache = program
    .command('cache')
    .description(
      'Stored stage outputs that later runs reuse: load and features, checked and feature months, segments, churn models and scores.',
    );
  cache
    .command('list')
    .description(
      'List stored stage outputs, newest use first, with the published snapshots that point at them. Within 100 columns; --json has full keys, times, every snapshot and the run that stored each.',
    )
    .addOption(json())
    .action(async (options: { json: boolean }) => {
      const [artifacts, code] = [await listCache(loadConfig().store), await currentCode()];
      const listed = withCodeStatus(artifacts, artifacts, code);
      output(options.json, listed, (list) => {
        const bytes = (these: CachedArtifact[]) => these.reduce((sum, a) => sum + a.bytes, 0);
        const older = list.filter((a) => a.codeIs === 'older');
        const other = list.filter((a) => a.codeIs === 'other');
        const unknown = list.filter((a) => a.codeIs === 'unknown');
        return [
          fittedTable(rows(list)),
          `${list.length} stored, ${megabytes(bytes(list))}`,
          ...(list.some((a) => {
            const named = namedSnapshot(a.snapshots);
            return a.usedBy.length > 1 || named?.experiment || named?.retired;
          })
            ? [
                wrappedNote(
                  "snapshots: the latest snapshot of its month pointing at it (the one 'segflow snapshots show <month>' shows), else the newest; (x) an experiment (run --experiment), (retired) one whose retirement was cut short before its folder was removed; +N the others ('segflow cache list --json' names them all, with full keys and the run that stored each)",
                ),
              ]
            : []),
          ...(older.length
            ? [
                wrappedNote(
                  `${older.length} (${megabytes(bytes(older))}) stored by older code, which no run has used since this segflow's code ran: 'segflow cache prune --older-code' removes them (not those a published snapshot points at)`,
                ),
              ]
            : []),
          ...(other.length
            ? [
                wrappedNote(
                  `${other.length} (${megabytes(bytes(other))}) stored by other code used as recently as this segflow's (a worker of another version, or this command run from another checkout): kept by --older-code`,
                ),
              ]
            : []),
          ...(unknown.length
            ? [
                wrappedNote(
                  `${unknown.length} (${megabytes(bytes(unknown))}) stored before segflow recorded the code ('?'): --older-than and --max-size prune them`,
                ),
              ]
            : []),
        ].join('\n');
      });
    });
  cache
    .command('prune')
    .description(
      'Remove stored stage outputs not used for a while and/or beyond a total size (least recently used first). ' +
        'Outputs a published snapshot points at are kept, and those a run not ended yet stored or used; ' +
        'what is removed is recorded in the audit log (cache.pruned).',
    )
    .option(
      '--older-than <age>',
      'remove outputs no run used for this long, e.g. 30d, 12h (m is minutes: a month is 30d)',
      parseDuration,
    )
    .option(
      '--max-size <size>',
      'then remove the least recently used until the cache fits, e.g. 5GB (1024-based, as 5GiB)',
      parseSize,
    )
    .option(
      '--older-code',
      "remove outputs stored by other code than this segflow's that no run has used since this segflow's code ran",
      false,
    )
    .option('--dry-run', 'only show what would be removed', false)
    .addOption(json())
    .action(
      async (options: { olderThan?: number; maxSize?: number; olderCode: boolean; dryRun: boolean; json: boolean }) => {
        if (options.olderThan === undefined && options.maxSize === undefined && !options.olderCode)
          throw new UsageError('cache prune needs --older-than, --max-size and/or --older-code');
        const code = await currentCode();
        const config = loadConfig();
        const result = await pruneCache(config.store, {
          olderThanMs: options.olderThan,
          maxBytes: options.maxSize,
          ...(options.olderCode ? { olderCode: code } : {}),
          dryRun: options.dryRun,
          // its audit entry signed as retire's and promote's are, where the key is set
          ...(config.signingKeyPath ? { signer: loadSigner(config.signingKeyPath) } : {}),
        });
        const all = [...result.kept, ...result.removed];
        const judged = (list: CachedArtifact[]) => withCodeStatus(list, all, code);
        // held artifacts are those no snapshot points at: their snapshots column says nothing
        const heldRows = (list: HeldArtifact[]) =>
          rows(judged(list)).map(({ snapshots: _none, ...row }, i) => ({
            ...row,
            keptFor: `${list[i].heldFor.workflowId} (${list[i].because})`,
          }));
        const heldBytes = (list: HeldArtifact[]) => list.reduce((sum, a) => sum + a.bytes, 0);
        // every line within TEXT_WIDTH, as `cache list`'s: notes wrap, tables fit (fittedTable)
        output(options.json, result, (r) =>
          [
            wrappedNote(
              `${options.dryRun ? 'would remove' : 'removed'} ${r.removed.length} ` +
                `(${megabytes(r.bytesFreed)}), kept ${r.kept.length}` +
                (r.auditSeq !== null ? `; recorded in the audit log (cache.pruned, seq ${r.auditSeq})` : ''),
            ),
            ...(r.removed.length > 0 ? [fittedTable(rows(judged(r.removed)))] : []),
            ...(r.protectedArtifacts.length > 0
              ? [
                  wrappedNote('kept because published snapshots point at them:'),
                  fittedTable(rows(judged(r.protectedArtifacts))),
                ]
              : []),
            ...(r.heldForRuns.length > 0
              ? [
                  wrappedNote(
                    'kept because runs not ended yet stored them or used them since they were requested ' +
                      '(their manifests will point at them; held until each records its end, while a stage ' +
                      'of it is running or for an hour after its last audit entry):',
                  ),
                  fittedTable(heldRows(r.heldForRuns)),
                ]
              : []),
            ...(options.maxSize !== undefined && r.keptBytes > options.maxSize
              ? [
                  wrappedNote(
                    `still ${megabytes(r.keptBytes)}, over --max-size ${megabytes(options.maxSize)}: ` +
                      `${megabytes(r.pinnedBytes)} of it is what published snapshots point at ` +
                      "('segflow cache list' names them; 'segflow snapshots retire' releases a snapshot's)" +
                      (r.heldForRuns.length > 0
                        ? `, ${megabytes(heldBytes(r.heldForRuns))} what runs not ended yet hold (above)`
                        : ''),
                  ),
                ]
              : []),
          ].join('\n'),
        );
        process.exit(EXIT.ok);
      },
    );
}
