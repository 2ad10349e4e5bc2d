// nginx serving a directory, as the static-file baseline of the HTTP benchmarks: sendfile on,
// no access log, everything it writes kept under the lab dir (Debian's build points at /var/lib/nginx).
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Pair } from './ns.ts';

export function nginxStatic(p: Pair, dataDir: string, port: number, connections: number): { cmd: string; args: string[] } {
  const prefix = join(p.lab.dir, 'nginx');
  mkdirSync(prefix, { recursive: true });
  const temp = ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map((t) => `${t}_temp_path ${prefix}/${t};`).join(' ');
  writeFileSync(join(prefix, 'nginx.conf'), `daemon off;
worker_processes auto;
user nobody nogroup;
pid ${prefix}/nginx.pid;
error_log stderr warn;
events { worker_connections ${connections}; }
http {
  access_log off;
  sendfile on;
  tcp_nopush on;
  default_type application/octet-stream;
  ${temp}
  server {
    listen ${p.serverIp}:${port};
    root ${dataDir};
  }
}
`);
  return { cmd: 'nginx', args: ['-p', prefix, '-c', join(prefix, 'nginx.conf'), '-e', 'stderr'] };
}
