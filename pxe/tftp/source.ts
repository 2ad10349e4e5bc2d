// The seam between the TFTP loop and what it serves (pixiecore's Booter idea): the server asks a
// FileSource for a path on behalf of a client and never touches the filesystem itself.

export interface TftpClient {
  address: string;
  port: number;
  /** The server address the request was sent to: on a two-zone host it says which zone asked. */
  localAddress: string;
}

export interface OpenFile {
  /** Size in octets, fixed when opened. */
  size: number;
  /** Reads exactly `length` octets at `offset` (fewer only at the end of the file). */
  read(offset: number, length: number): Promise<Buffer>;
  close(): Promise<void>;
}

export interface OpenRefusal {
  error: 'not-found' | 'access-violation';
  message: string;
}

export interface FileSource {
  open(path: string, client: TftpClient): Promise<OpenFile | OpenRefusal>;
}

/**
 * A request path as a list of segments below a root. PXE ROMs ask for `/pxelinux.0` as often as
 * `pxelinux.0`, and Windows-style configs for `boot\x64\wdsnbp.com`, so a leading `/` means the root
 * and `\` separates like `/`. Any `..` segment is refused outright rather than resolved.
 */
export function requestSegments(path: string): { ok: true; segments: string[] } | OpenRefusal {
  if (path.includes('\0')) return { error: 'access-violation', message: 'NUL in path' };
  const segments = path.replaceAll('\\', '/').split('/').filter((s) => s !== '' && s !== '.');
  if (segments.includes('..')) return { error: 'access-violation', message: 'path leaves the root' };
  if (segments.length === 0) return { error: 'not-found', message: 'no file named' };
  return { ok: true, segments };
}

/** Content generated per machine (a Buffer, or a function of the asking client); undefined: no file. */
export type VirtualFile = Buffer | ((client: TftpClient) => Buffer | undefined | Promise<Buffer | undefined>);

/** Serves in-memory files by their normalized path (`grub/grub.cfg`, no leading slash). */
export function virtualSource(files: ReadonlyMap<string, VirtualFile>): FileSource {
  return {
    async open(path, client) {
      const req = requestSegments(path);
      if (!('ok' in req)) return req;
      const file = files.get(req.segments.join('/'));
      const data = typeof file === 'function' ? await file(client) : file;
      if (data === undefined) return { error: 'not-found', message: 'no such file' };
      return {
        size: data.length,
        read: async (offset, length) => data.subarray(offset, offset + length),
        close: async () => {},
      };
    },
  };
}

/** Asks each source in turn; the first answer other than not-found wins. */
export function chainSources(...sources: FileSource[]): FileSource {
  return {
    async open(path, client) {
      let last: OpenFile | OpenRefusal = { error: 'not-found', message: 'no such file' };
      for (const source of sources) {
        last = await source.open(path, client);
        if (!('error' in last) || last.error !== 'not-found') return last;
      }
      return last;
    },
  };
}
