/**
 * The -vvv wire dump (`Local> ...` for bytes sent, `Peer> ...` for bytes
 * received), formatted like csync2's conn_debug(): LF as `\n`, CR as `\r`,
 * other bytes below 32 and 127 as 3-digit octal; bytes >= 128 go through a
 * signed `char` and print as the octal of the sign-extended 32-bit value
 * (0xC3 -> `\37777777703`). The whole line (pid prefix included) is cut to
 * 1023 characters. csync2 writes it straight to stderr: no syslog, no
 * timestamp prefix, not counted as a printed message.
 */
import { writeFullyOrDrop } from '../util/fdwrite.js';
import type { BStr } from '../util/bytes.js';
import { currentSessionId, log } from '../util/log.js';

export type WireDirection = 'Local' | 'Peer';

/** The C buffer is 1024 bytes including the terminating NUL. */
export const WIRE_DUMP_MAX = 1023;

const ESCAPES: string[] = [];
for (let b = 0; b < 256; b++) {
  if (b === 0x0a) ESCAPES.push('\\n');
  else if (b === 0x0d) ESCAPES.push('\\r');
  else if (b < 32 || b === 127) ESCAPES.push('\\' + b.toString(8).padStart(3, '0'));
  else if (b >= 128) ESCAPES.push('\\' + ((0xffffff00 | b) >>> 0).toString(8));
  else ESCAPES.push(String.fromCharCode(b));
}

/** One dump line without its LF. `sessionPid` adds csync2's `<pid> ` prefix when non-zero. */
export function formatWireDump(dir: WireDirection, bytes: Uint8Array, sessionPid = 0): BStr {
  let out = (sessionPid ? `<${sessionPid}> ` : '') + dir + '> ';
  for (let i = 0; i < bytes.length && out.length < WIRE_DUMP_MAX; i++) out += ESCAPES[bytes[i]!];
  return out.length > WIRE_DUMP_MAX ? out.slice(0, WIRE_DUMP_MAX) : out;
}

/** Receives every chunk as the C code would dump it (one line per write / per line read). */
export interface WireTap {
  (dir: WireDirection, bytes: Uint8Array): void;
}

/**
 * The tap csync2 has at -vvv: lines on the logger's fd (stderr). Returns null
 * below level 3 so hot paths skip all formatting work. Without `sessionPid` the
 * prefix is the current session's id (currentSessionId(), else log.sessionPid), looked
 * up at each dump.
 */
export function stderrWireTap(sessionPid?: number): WireTap | null {
  if (!log.enabled(3)) return null;
  return (dir, bytes) => {
    const pid = sessionPid ?? currentSessionId() ?? log.sessionPid;
    const line = Buffer.from(formatWireDump(dir, bytes, pid) + '\n', 'latin1');
    writeFullyOrDrop(log.fd, line); // a closed stderr must not end the session
  };
}
