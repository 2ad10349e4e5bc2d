// Per-machine files go into the image's reserved config partition as one newc cpio archive, never
// into the image bytes (images/manifest.ts explains why: the disk must still hash to the manifest
// after an install). Then the tail — the backup GPT that describes the config partition — is
// written after it. The node OS unpacks the archive at boot (images/node: tether-config.service).
// No mount, no partition re-read, no filesystem tool: the discovery OS needs nothing for this.
import type { FileHandle } from 'node:fs/promises';
import { writeCpio, type CpioEntry } from '../../images/initrd/cpio.ts';
import type { ImageManifest } from '../../images/manifest.ts';
import type { StagedFile } from '../protocol.ts';
import { STAGE_LIMITS, stagedFileProblem } from './stage.ts';

/** The archive: parent directories first (mode 0755), then each file with its mode. */
export function configArchive(files: readonly StagedFile[]): Buffer {
  if (files.length > STAGE_LIMITS.files) throw new RangeError(`${files.length} files to stage; at most ${STAGE_LIMITS.files}`);
  const entries: CpioEntry[] = [];
  const dirs = new Set<string>();
  let total = 0;
  for (const f of files) {
    const problem = stagedFileProblem(f);
    if (problem) throw new RangeError(problem);
    const parts = f.path.split('/');
    for (let i = 1; i < parts.length; i++) {
      const d = parts.slice(0, i).join('/');
      if (!dirs.has(d)) { dirs.add(d); entries.push({ kind: 'dir', path: d, mode: 0o755 }); }
    }
    const data = Buffer.from(f.contentBase64, 'base64');
    total += data.length;
    if (total > STAGE_LIMITS.totalBytes) throw new RangeError(`staged files exceed ${STAGE_LIMITS.totalBytes} bytes`);
    entries.push({ kind: 'file', path: f.path, data, mode: f.mode });
  }
  return writeCpio(entries, Math.floor(Date.now() / 1000));
}

/**
 * Writes the archive at the config partition's offset and the tail at its offset, then syncs.
 * Refuses (before writing) a manifest without a config partition or an archive that does not fit.
 */
export async function writeConfigPartition(fh: FileHandle, m: ImageManifest, files: readonly StagedFile[]): Promise<{ archiveBytes: number }> {
  if (!m.config) throw new Error(`image ${m.name} reserves no config partition: its per-machine files have nowhere to go`);
  const archive = configArchive(files);
  if (archive.length > m.config.size) throw new RangeError(`the staged files (${archive.length} bytes as cpio) do not fit the ${m.config.size}-byte config partition`);
  await fh.write(archive, 0, archive.length, m.config.offset);
  if (m.tail) {
    const tail = Buffer.from(m.tail.base64, 'base64');
    await fh.write(tail, 0, tail.length, m.tail.offset);
  }
  await fh.datasync();
  return { archiveBytes: archive.length };
}
