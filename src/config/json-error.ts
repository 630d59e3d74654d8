// Where a JSON text first breaks, and what was expected there: for messages that point at a
// line and column (V8's JSON.parse messages do not always carry a position).

export function lineColumn(text: string, offset: number): { line: number; column: number } {
  let line = 1;
  let lineStart = 0;
  for (let i = 0; i < offset && i < text.length; i++) {
    if (text.charCodeAt(i) === 10) {
      line++;
      lineStart = i + 1;
    }
  }
  return { line, column: offset - lineStart + 1 };
}

/**
 * V8's JSON.parse messages do not always carry a position; this scanner, run only after a
 * failure, finds the offset of the first syntax error and names what was expected.
 */
export function locateJsonError(s: string): { offset: number; message: string } {
  let i = 0;
  class Stop {
    constructor(
      readonly offset: number,
      readonly message: string,
    ) {}
  }
  const stop = (message: string, at = i): never => {
    throw new Stop(at, message);
  };
  const found = () => (i >= s.length ? 'end of file' : `${JSON.stringify(s[i])}`);
  const ws = () => {
    while (i < s.length) {
      const c = s[i];
      if (c === ' ' || c === '\t' || c === '\n' || c === '\r') i++;
      else if (c === '/' && (s[i + 1] === '/' || s[i + 1] === '*')) stop('comments are not allowed in JSON');
      else break;
    }
  };
  const str = () => {
    const start = i;
    i++;
    while (i < s.length) {
      const c = s.charCodeAt(i);
      if (c === 0x22) {
        i++;
        return;
      }
      if (c < 0x20)
        stop(
          c === 10 ? 'unterminated string (newline inside a string)' : 'control character inside a string',
        );
      if (c === 0x5c) {
        const e = s[i + 1];
        if (e === 'u') {
          if (!/^[0-9a-fA-F]{4}$/.test(s.slice(i + 2, i + 6))) stop('invalid \\u escape in a string');
          i += 6;
          continue;
        }
        if (e === undefined || !'"\\/bfnrt'.includes(e)) stop(`invalid escape \\${e ?? ''} in a string`);
        i += 2;
        continue;
      }
      i++;
    }
    stop('unterminated string', start);
  };
  const num = () => {
    const m = /^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?/.exec(s.slice(i, i + 400));
    if (!m || m[0] === '-' || m[0] === '') stop(`unexpected ${found()}, expected a value`);
    i += (m as RegExpExecArray)[0].length;
  };
  const value = (): void => {
    ws();
    const c = s[i];
    if (c === '{') {
      i++;
      ws();
      if (s[i] === '}') {
        i++;
        return;
      }
      for (;;) {
        ws();
        if (s[i] !== '"')
          stop(
            s[i] === '}'
              ? 'trailing comma before "}"'
              : `unexpected ${found()}, expected a double-quoted property name`,
          );
        str();
        ws();
        if (s[i] !== ':') stop(`unexpected ${found()}, expected ":" after the property name`);
        i++;
        value();
        ws();
        if (s[i] === ',') {
          i++;
          continue;
        }
        if (s[i] === '}') {
          i++;
          return;
        }
        stop(`unexpected ${found()}, expected "," or "}"`);
      }
    }
    if (c === '[') {
      i++;
      ws();
      if (s[i] === ']') {
        i++;
        return;
      }
      for (;;) {
        ws();
        if (s[i] === ']') stop('trailing comma before "]"');
        value();
        ws();
        if (s[i] === ',') {
          i++;
          continue;
        }
        if (s[i] === ']') {
          i++;
          return;
        }
        stop(`unexpected ${found()}, expected "," or "]"`);
      }
    }
    if (c === '"') {
      str();
      return;
    }
    if (c === '-' || (c >= '0' && c <= '9')) {
      num();
      return;
    }
    for (const word of ['true', 'false', 'null']) {
      if (s.startsWith(word, i)) {
        i += word.length;
        return;
      }
    }
    stop(`unexpected ${found()}, expected a value`);
  };
  try {
    value();
    ws();
    if (i < s.length) stop(`unexpected ${found()} after the end of the JSON document`);
  } catch (e) {
    if (e instanceof Stop) return { offset: e.offset, message: e.message };
    if (e instanceof RangeError) return { offset: i, message: 'nesting too deep' };
    throw e;
  }
  return { offset: 0, message: 'invalid JSON' };
}
