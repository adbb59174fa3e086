/**
 * Every reply line the csync2 daemon sends, as named constants (without the
 * trailing LF), and the client's classification of a received line. Client,
 * server and tests all use these, so a text exists in exactly one place.
 */
import type { BStr } from '../util/bytes.js';

export const OK_CMD_FINISHED = 'OK (cmd_finished).';
export const OK_DATA_FOLLOWS = 'OK (data_follows).';
export const OK_SEND_DATA = 'OK (send_data).';
export const OK_NOT_FOUND = 'OK (not_found).';
export const OK_PATH_NOT_FOUND = 'OK (path_not_found).';
export const OK_CU_LATER = 'OK (cu_later).';
export const OK_ACTIVATING_SSL = 'OK (activating_ssl).';

/** The client's label for EOF; never sent by a real server, but classified if it were. */
export const ERR_CONN_CLOSED = 'Connection closed.';
export const ERR_ALSO_DIRTY = 'File is also marked dirty here!';
export const ERR_PARENT_MISSING = 'Parent dir missing.';
export const ERR_GROUP_ALREADY_SET = 'Group list already set!';
export const ERR_IDENT_FAILED = 'Identification failed!';
export const ERR_PERM_SLAVE = 'Permission denied for slave!';
export const ERR_PERM = 'Permission denied!';
export const ERR_SSL_EXPECTED = 'SSL encrypted connection expected!';
/** Debian's binary spells it correctly; the upstream source says `Unkown command!`. */
export const ERR_UNKNOWN_COMMAND = 'Unknown command!';
export const ERR_WIN32_EIO_CREATE_DIR = 'Win32 I/O Error on CreateDirectory()';

/** First line was neither SSL nor CONFIG (the server closes afterwards). */
export const ERR_EXPECT_SSL_CONFIG = 'Expecting SSL (optional) and CONFIG as first commands.';
/** CONFIG name outside [a-z0-9] (the server closes afterwards, exit 0). */
export const ERR_CONFIG_NAME = 'Config names are limited to [a-z0-9]+.';
/** What a server built without TLS answers to SSL (Debian's build never sends it). */
export const ERR_NO_SSL_SUPPORT = 'This csync2 server is built without SSL support.';

/**
 * Beyond csync2: an extension our client and our daemon use between themselves,
 * once they agreed on it in the TLS handshake (net/tls.ts EXTENSIONS_ALPN; a
 * real csync2 never does, and to it nothing changes). `XPATCH K F [TOKEN]` may
 * then replace PATCH: it is followed at once, without waiting for a reply, by
 * a frame holding a delta: literals only, or (with TOKEN, protocol/xpatch.ts)
 * a delta against the signature this session's SIG sent of the file. No round
 * trip for a signature; one reply: PATCH's error line or `OK (cmd_finished).`.
 * The daemon always reads that frame, also when it refuses the command.
 */
export const XPATCH_COMMAND = 'XPATCH';
/**
 * Extensions version 2: `XPATCHS K F TOKEN`, XPATCH whose delta follows as a
 * chunked run of frames (protocol/frame.ts FRAME_CHUNKED). The client sends it
 * while it makes it and the daemon applies it while it arrives (a big file's
 * delta no longer waits to be complete before the other end can start).
 */
export const XPATCHS_COMMAND = 'XPATCHS';
/**
 * Extensions version 5: `XPATCHA K F UID GID MODE MTIME [TOKEN]`, XPATCH K F [TOKEN] followed,
 * when it succeeds, by SETOWN K F UID GID, SETMOD K F MODE and SETIME K F MTIME of the same file:
 * the daemon runs the four commands and sends their four replies (one, XPATCH's, when that one
 * is not OK), as if they had come on four lines. The client's last three lines of a new regular
 * file go, and the daemon reads, tokenizes and checks one line instead of four.
 */
export const XPATCHA_COMMAND = 'XPATCHA';
/**
 * Extensions version 3: `SIGT K F`, SIG whose reply carries, in place of a
 * regular file's signature frame, the line `octet-size <n>`: the size that
 * signature has, without its bytes. The client's check of a removal needs no
 * more (csync2 compares a signature with that of a missing file: only the
 * sizes tell), and the daemon neither reads the file nor computes a signature.
 */
export const SIGT_COMMAND = 'SIGT';
/** SIGT's stand-in for the signature frame (followed by the size). */
export const SIZE_ONLY_HEADER = 'octet-size';

/** Data line of a missing file in SIG replies (`OK (path_not_found).` / `OK (not_found).`). */
export const MISSING_CHECKTXT = '---';

/** Reply to a command sent before HELLO; `stranger` when the peer address is unknown. */
export function pleaseIdentify(peerIp: string | null): BStr {
  return `Dear ${peerIp ?? 'stranger'}, please identify first.`;
}

/**
 * csync2's numeric reply codes (enum connection_response); the number appears in
 * the -vvv line `response from peer(<file>): <peer> [<code>] <- <line>`.
 */
export const ReplyCode = {
  OK: 0,
  OK_CMD_FINISHED: 1,
  OK_DATA_FOLLOWS: 2,
  OK_SEND_DATA: 3,
  OK_NOT_FOUND: 4,
  OK_PATH_NOT_FOUND: 5,
  OK_CU_LATER: 6,
  OK_ACTIVATING_SSL: 7,
  ERROR: 8,
  CONN_CLOSED: 9,
  ALSO_DIRTY: 10,
  PARENT_MISSING: 11,
  GROUP_ALREADY_SET: 12,
  IDENT_FAILED: 13,
  PERM_SLAVE: 14,
  PERM: 15,
  SSL_EXPECTED: 16,
  UNKNOWN_COMMAND: 17,
  WIN32_EIO_CREATE_DIR: 18,
} as const;
export type ReplyCode = (typeof ReplyCode)[keyof typeof ReplyCode];

/** The table the client matches against, in csync2's order (first prefix match wins). */
const TABLE: ReadonlyArray<readonly [BStr, ReplyCode]> = [
  [OK_CMD_FINISHED, ReplyCode.OK_CMD_FINISHED],
  [OK_DATA_FOLLOWS, ReplyCode.OK_DATA_FOLLOWS],
  [OK_SEND_DATA, ReplyCode.OK_SEND_DATA],
  [OK_NOT_FOUND, ReplyCode.OK_NOT_FOUND],
  [OK_PATH_NOT_FOUND, ReplyCode.OK_PATH_NOT_FOUND],
  [OK_CU_LATER, ReplyCode.OK_CU_LATER],
  [OK_ACTIVATING_SSL, ReplyCode.OK_ACTIVATING_SSL],
  [ERR_CONN_CLOSED, ReplyCode.CONN_CLOSED],
  [ERR_ALSO_DIRTY, ReplyCode.ALSO_DIRTY],
  [ERR_PARENT_MISSING, ReplyCode.PARENT_MISSING],
  [ERR_GROUP_ALREADY_SET, ReplyCode.GROUP_ALREADY_SET],
  [ERR_IDENT_FAILED, ReplyCode.IDENT_FAILED],
  [ERR_PERM_SLAVE, ReplyCode.PERM_SLAVE],
  [ERR_PERM, ReplyCode.PERM],
  [ERR_SSL_EXPECTED, ReplyCode.SSL_EXPECTED],
  [ERR_UNKNOWN_COMMAND, ReplyCode.UNKNOWN_COMMAND],
  [ERR_WIN32_EIO_CREATE_DIR, ReplyCode.WIN32_EIO_CREATE_DIR],
];

/** A reply is OK iff it starts with `OK (`. */
export function isOk(line: BStr): boolean {
  return line.startsWith('OK (');
}

/** True for the OK codes (csync2's is_ok_response). */
export function isOkCode(code: ReplyCode): boolean {
  return code >= ReplyCode.OK && code < ReplyCode.ERROR;
}

/**
 * The client's mapping of a received line to a code: the first table entry whose
 * full text is a prefix of the line; else OK for any other `OK (` line, else ERROR.
 */
export function classifyReply(line: BStr): ReplyCode {
  for (const [text, code] of TABLE) {
    if (line.startsWith(text)) return code;
  }
  return isOk(line) ? ReplyCode.OK : ReplyCode.ERROR;
}
