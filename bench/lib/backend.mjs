// The bench's backend: the documents of docs.mjs served as static files by nginx (1 worker), or
// by a node:http server when nginx is not installed. Returns { proc, url, kind }.
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DOCUMENTS } from './docs.mjs';
import { backendConf, startNginx } from './nginx.mjs';
import { freePort, startProcess, waitForHttp } from './proc.mjs';

const HERE = dirname(fileURLToPath(import.meta.url));

export async function startBenchBackend(tmp, nginxBin) {
  const port = await freePort();
  const www = join(tmp, 'www');
  mkdirSync(www, { recursive: true });
  for (const [name, text] of Object.entries(DOCUMENTS)) writeFileSync(join(www, name), text);
  const url = `http://127.0.0.1:${port}`;
  if (nginxBin) {
    const proc = await startNginx(nginxBin, tmp, 'backend', backendConf(tmp, www, port), `${url}/__ready`);
    return { proc, url, kind: 'nginx (1 worker, static files)' };
  }
  const proc = startProcess(process.execPath, [join(HERE, 'node-backend.mjs'), String(port)]);
  await waitForHttp(`${url}/__ready`, 'node backend', 10000, proc);
  return { proc, url, kind: 'node:http (nginx not installed)' };
}
