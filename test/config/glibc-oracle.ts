/**
 * The real glibc fnmatch() as an oracle: one python3 process evaluates a whole
 * batch of cases through ctypes in the C locale (python itself switches
 * LC_CTYPE to the user's locale at start-up, so we reset it first).
 */
import { spawnSync } from 'node:child_process';
import type { BStr } from '../../src/util/bytes.js';

export const FNM_PATHNAME = 1;
export const FNM_LEADING_DIR = 8;

export interface OracleCase {
  pattern: BStr;
  str: BStr;
  flags: number;
}

const SCRIPT = `
import ctypes, sys
libc = ctypes.CDLL('libc.so.6')
libc.setlocale(6, b"C")
libc.fnmatch.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_int]
out = []
for line in sys.stdin.buffer.read().split(b"\\n"):
    if not line:
        continue
    p, s, f = line.split(b" ")
    out.append(b"1" if libc.fnmatch(bytes.fromhex(p.decode()), bytes.fromhex(s.decode()), int(f)) == 0 else b"0")
sys.stdout.buffer.write(b"".join(out))
`;

function hex(s: BStr): string {
  return Buffer.from(s, 'latin1').toString('hex');
}

/** glibc's verdict (true = match) for every case, in order. */
export function glibcFnmatch(cases: OracleCase[]): boolean[] {
  const input = cases.map((c) => `${hex(c.pattern)} ${hex(c.str)} ${c.flags}\n`).join('');
  const r = spawnSync('python3', ['-c', SCRIPT], { input, maxBuffer: 64 << 20 });
  if (r.status !== 0) throw new Error(`python3 oracle failed: ${r.stderr.toString()}`);
  const out = r.stdout.toString('latin1');
  if (out.length !== cases.length) throw new Error(`oracle returned ${out.length} results for ${cases.length} cases`);
  return [...out].map((ch) => ch === '1');
}
