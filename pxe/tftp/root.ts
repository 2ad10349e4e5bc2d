// A FileSource confined to a directory: regular files only, nothing outside the root's real path —
// also not through a symlink (tftp 0.1.2 follows symlinks out of its root).
import { constants } from 'node:fs';
import { open, readlink, realpath, type FileHandle } from 'node:fs/promises';
import { join, sep } from 'node:path';
import { requestSegments, type FileSource, type OpenFile, type OpenRefusal } from './source.ts';

export function rootSource(dir: string): FileSource {
  return {
    async open(path) {
      const req = requestSegments(path);
      if (!('ok' in req)) return req;
      // A missing or unreadable root is a configuration fault: it throws (the server answers ERROR 0).
      const root = await realpath(dir);
      let real: string;
      try {
        real = await realpath(join(root, ...req.segments));
      } catch (e) {
        return refusal(e);
      }
      if (!inside(root, real)) return { error: 'access-violation', message: 'path resolves outside the root' };
      let fh: FileHandle;
      try {
        // O_NONBLOCK: opening a FIFO planted in the root must not hang a thread; O_NOFOLLOW: the
        // resolved path's last component was not a symlink a moment ago and must not be one now.
        fh = await open(real, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
      } catch (e) {
        return refusal(e);
      }
      try {
        // What was opened, not what was resolved: a directory swapped for a symlink between
        // realpath() and open() shows here.
        const opened = await readlink(`/proc/self/fd/${fh.fd}`);
        const st = await fh.stat();
        if (!inside(root, opened)) return closeWith(fh, { error: 'access-violation', message: 'path resolves outside the root' });
        if (!st.isFile()) return closeWith(fh, { error: 'access-violation', message: 'not a regular file' });
        return fileOf(fh, st.size);
      } catch (e) {
        await fh.close();
        throw e;
      }
    },
  };
}

function fileOf(fh: FileHandle, size: number): OpenFile {
  return {
    size,
    async read(offset, length) {
      const buf = Buffer.alloc(Math.max(0, Math.min(length, size - offset)));
      let got = 0;
      while (got < buf.length) {
        const { bytesRead } = await fh.read(buf, got, buf.length - got, offset + got);
        if (bytesRead === 0) break;
        got += bytesRead;
      }
      return buf.subarray(0, got);
    },
    close: () => fh.close(),
  };
}

function inside(root: string, path: string): boolean {
  return path === root || path.startsWith(root.endsWith(sep) ? root : root + sep);
}

async function closeWith(fh: FileHandle, r: OpenRefusal): Promise<OpenRefusal> {
  await fh.close();
  return r;
}

function refusal(e: unknown): OpenRefusal {
  const code = (e as NodeJS.ErrnoException).code;
  if (code === 'ENOENT' || code === 'ENOTDIR') return { error: 'not-found', message: 'no such file' };
  if (code === 'EACCES' || code === 'EPERM' || code === 'ELOOP') return { error: 'access-violation', message: `cannot open (${code})` };
  throw e;
}
