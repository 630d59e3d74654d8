// One HTTP/1.1 exchange written by hand on a fresh connection: the tests that must see the answer's
// header lines as sent (their case tells a backend's header lines passed as bytes from a header
// map, which lower-cases names) or send what an HTTP client will not (a control character in a
// header value, any method token).
import net from 'node:net';

/**
 * Writes `head` (a whole request, `Connection: close` included) and reads to the end: the status,
 * the header lines as sent but `Date` (which differs from answer to answer), and the body (latin1).
 */
export function rawRequest(port, head) {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    const chunks = [];
    socket.on('data', (c) => chunks.push(c));
    socket.on('error', reject);
    socket.on('end', () => {
      const text = Buffer.concat(chunks).toString('latin1');
      const at = text.indexOf('\r\n\r\n');
      const lines = text.slice(0, at).split('\r\n');
      resolve({
        status: Number(lines[0].split(' ')[1]),
        headers: lines.slice(1).filter((l) => !/^date:/i.test(l)),
        body: text.slice(at + 4),
      });
    });
    socket.write(head);
  });
}

/** A GET of `path` with `Host: gw.test` and `extraLines` (each ending in CRLF). */
export function rawGet(port, path, extraLines = '') {
  return rawRequest(port, `GET ${path} HTTP/1.1\r\nHost: gw.test\r\n${extraLines}Connection: close\r\n\r\n`);
}
