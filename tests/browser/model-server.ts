// A local model server for the loading tests, with the behaviours real hosts have:
//   /plain/<file>                  static files with HTTP Range
//   /spa/<file>                    ignores Range (always 200 with the whole file); unknown paths
//                                  answer 200 text/html index.html, as SPA hosts and Vite do
//   /org/name/resolve/main/<file>  Hugging Face layout: 302 to /cdn/<file> (which has Range)
// Cross-origin to the test page (CORS with Range). It counts the bytes and requests it serves.
import { createServer, type Server } from 'node:http';
import { readFileSync, existsSync, statSync } from 'node:fs';
import { join } from 'node:path';

export interface ServerStats {
  requests: number;
  bytes: number;
  paths: string[];
}

export function startModelServer(dir: string, port: number): Promise<{ server: Server; stats: () => ServerStats; reset: () => void }> {
  let stats: ServerStats = { requests: 0, bytes: 0, paths: [] };
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    res.setHeader('access-control-allow-origin', '*');
    res.setHeader('access-control-allow-headers', 'range');
    res.setHeader('access-control-expose-headers', 'content-range, content-length');
    if (req.method === 'OPTIONS') return void res.writeHead(204).end();
    stats.requests++;
    stats.paths.push(url.pathname);
    const send = (status: number, body: Buffer, headers: Record<string, string>) => {
      stats.bytes += body.length;
      res.writeHead(status, { 'content-length': String(body.length), ...headers }).end(body);
    };
    const m = /^\/(plain|spa|cdn|org\/name\/resolve\/main)\/(.+)$/.exec(url.pathname);
    if (!m) return send(404, Buffer.from('not found'), { 'content-type': 'text/plain' });
    const [, kind, rel] = m;
    if (kind === 'org/name/resolve/main') return void res.writeHead(302, { location: `/cdn/${rel}` }).end();
    const file = join(dir, rel);
    const exists = !rel.includes('..') && existsSync(file) && statSync(file).isFile();
    if (!exists) {
      if (kind === 'spa') return send(200, Buffer.from('<!doctype html><html><body>app</body></html>'), { 'content-type': 'text/html' });
      return send(404, Buffer.from('not found'), { 'content-type': 'text/plain' });
    }
    const body = readFileSync(file);
    const type = rel.endsWith('.json') ? 'application/json' : 'application/octet-stream';
    const range = /^bytes=(\d+)-(\d+)?$/.exec(req.headers.range ?? '');
    if (range && kind !== 'spa') {
      const start = Number(range[1]);
      const end = Math.min(range[2] === undefined ? body.length - 1 : Number(range[2]), body.length - 1);
      return send(206, body.subarray(start, end + 1), { 'content-type': type, 'content-range': `bytes ${start}-${end}/${body.length}`, 'accept-ranges': 'bytes' });
    }
    send(200, body, { 'content-type': type });
  });
  return new Promise((resolve) => {
    server.listen(port, '127.0.0.1', () =>
      resolve({
        server,
        stats: () => stats,
        reset: () => {
          stats = { requests: 0, bytes: 0, paths: [] };
        },
      }),
    );
  });
}
