/**
 * Reader buffer sizes of csync2 (bytes, including room for the C string's NUL).
 * A line needs its LF within size-1 bytes, else the reader gives up (fatal).
 * Pass these as `maxSize` to LineReader.readLine().
 */

/** Server: every command line, and the first SSL/CONFIG lines. */
export const SERVER_LINE_MAX = 16384;
/** Client: ordinary status replies. */
export const REPLY_LINE_MAX = 4096;
/** Client: the checktxt line after `SIG`. */
export const CHECKTXT_LINE_MAX = 16384;
/** Client: the value line after GETTM / GETSZ. */
export const VALUE_LINE_MAX = 16384;
/** Client: one LIST reply line (`<checktxt>\t<filename>`). */
export const LIST_LINE_MAX = 2048;
/** Both: the `octet-stream <N>` header line. */
export const FRAME_HEADER_MAX = 100;
/** Payload chunk size csync2 uses when sending/receiving frames (irrelevant on the wire). */
export const FRAME_CHUNK = 512;
/** Bytes the C reader fetches at once; read-ahead beyond a line is at most this minus the line. */
export const C_READ_AHEAD = 512;
