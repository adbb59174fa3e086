/**
 * stdout for listings, -o names, dry-run lines and the help text. Collected and
 * written with writeSync so nothing is lost when the run ends with process.exit
 * (C's exit() flushes stdio the same way).
 */
import { writeFullyOrDrop } from '../util/fdwrite.js';
import { toBuf, type BStr } from '../util/bytes.js';

const chunks: BStr[] = [];
let pending = 0;
const FLUSH_AT = 1 << 16;

export function printLine(line: BStr): void {
  print(line + '\n');
}

export function print(text: BStr): void {
  chunks.push(text);
  pending += text.length;
  if (pending >= FLUSH_AT) flushStdout();
}

export function flushStdout(): void {
  if (chunks.length === 0) return;
  const buf = toBuf(chunks.join(''));
  chunks.length = 0;
  pending = 0;
  writeFullyOrDrop(1, buf); // stdout closed (EPIPE): nothing more to say
}
