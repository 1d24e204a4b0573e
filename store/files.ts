import { access, copyFile, link, rm } from 'node:fs/promises';

/** Whether there is a file (or folder) at `path` that this process can see. */
export function fileExists(path: string): Promise<boolean> {
  return access(path).then(
    () => true,
    () => false,
  );
}

/**
 * Puts the file `from` at `to` (replacing it) as a hard link: no bytes copied, and a stored file
 * and a run's copy share them. Writers never write through such a link (writeParquetView removes
 * its target first), and a stored file is read-only. Across file systems, or where links are
 * refused, a copy.
 */
export async function linkOrCopy(from: string, to: string): Promise<void> {
  await rm(to, { force: true });
  try {
    await link(from, to);
  } catch {
    await copyFile(from, to);
  }
}
