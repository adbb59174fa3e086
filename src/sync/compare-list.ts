/**
 * The client half of LIST (protocol.md §5.4, update.c csync_insynctest and
 * csync_insynctest_readline): the request line, and the reply rows read one by
 * one with csync2's 2048-byte line limit, its end and error handling.
 */
import type { Group } from '../config/model.js';
import type { PeerLink } from '../net/client.js';
import { LIST_LINE_MAX } from '../protocol/limits.js';
import { lineTooLong } from '../protocol/linereader.js';
import { urlDecode, urlEncode } from '../protocol/urlencode.js';
import type { BStr } from '../util/bytes.js';
import { ProtocolError } from '../util/errors.js';
import { errorCount, log } from '../util/log.js';
import { checktxtOf, type ListRow } from './compare-merge.js';

/**
 * `LIST <peer> <file or -> <key>...`: peer name and keys go out raw, one key per
 * active group where this host is `myname` and the peer is listed, in run-time
 * group order (duplicates included, as csync2 sends them).
 */
export function listRequest(groups: readonly Group[], myname: BStr, peer: BStr, file: BStr | null): BStr {
  let line = `LIST ${peer} ${file === null ? '-' : urlEncode(file)}`;
  for (const g of groups) {
    if (!g.active || g.myname !== myname) continue;
    if (g.hosts.some((h) => h.name === peer)) line += ` ${g.key}`;
  }
  return line;
}

/**
 * Reads the peer's rows. `next()` resolves null at the end of the list: the
 * `OK (` line (level 2 note), any other non-row line (`ERROR from peer: ...`,
 * one error), a malformed row (one error) or end of file (no error here: the
 * BYE that follows counts it). A line of 2048 bytes or more is fatal.
 */
export class ListReader {
  /** The first error message this reader logged, if any. */
  error: BStr | null = null;

  constructor(private readonly link: PeerLink) {}

  private fail(message: BStr): null {
    errorCount.value++;
    log.debug(0, message);
    this.error ??= message;
    return null;
  }

  /** The next row, taken from what has arrived when it can be (no promise per row then). */
  next(): ListRow | null | Promise<ListRow | null> {
    const now = this.nextNow();
    return now !== undefined ? now : this.nextLater();
  }

  private async nextLater(): Promise<ListRow | null> {
    for (;;) {
      await this.link.conn.reader.awaitMore();
      const now = this.nextNow();
      if (now !== undefined) return now;
    }
  }

  /** A row, or the end of the list, from the lines that have arrived; undefined: none complete yet. */
  private nextNow(): ListRow | null | undefined {
    let line: BStr | null | undefined;
    try {
      line = this.link.conn.reader.readLineNow(LIST_LINE_MAX);
    } catch (err) {
      throw this.rowError(err);
    }
    if (line === undefined) return undefined;
    if (line === null) return null;
    if (line.charCodeAt(0) !== 0x76 /* v */) {
      if (line.startsWith('OK (')) {
        log.debug(2, `End of query results: ${line}`);
        return null;
      }
      return this.fail(`ERROR from peer: ${line}`);
    }
    // strtok(line, "\t") then strtok(NULL, "\n"): the name is everything after the first TAB.
    const tab = line.indexOf('\t');
    const rest = tab < 0 ? '' : line.slice(tab + 1);
    if (rest === '') return this.fail('Format error in reply: \\n not found!');
    const row: ListRow = { encodedChecktxt: line.slice(0, tab), file: urlDecode(rest) };
    if (log.enabled(2)) log.debug(2, `Fetched tuple from peer: ${row.file} [${checktxtOf(row)}]`);
    return row;
  }

  /** csync2's line limit, named with the peer that sent the over-long row. */
  private rowError(err: unknown): unknown {
    if (!(err instanceof ProtocolError) || err.message !== lineTooLong(LIST_LINE_MAX)) return err;
    return new ProtocolError(err.message, this.link.peer, 'LIST',
      `a LIST row from ${this.link.peer} is longer than the ${LIST_LINE_MAX - 1} bytes a csync2 client accepts (a very long file name?)`);
  }
}
