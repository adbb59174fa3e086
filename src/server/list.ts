/**
 * LIST <servername> <file or -> <key>... (protocol.md §5.4): the file rows
 * (as stored, still url-encoded) of the files this host shares with the client
 * under one of the given keys, where this host's name in the group is
 * <servername>. Lines go out in large writes.
 */
import { urlDecode } from '../protocol/urlencode.js';
import type { BStr } from '../util/bytes.js';
import type { Outcome, Request, Session } from './session.js';

const BATCH = 64 * 1024;

export async function list(s: Session, r: Request): Promise<Outcome> {
  const myname = r.tags[1]!;
  const only = r.tags[2] === '-' ? null : r.tags[2]!;
  const keys = r.tags.slice(3);
  let out = '';
  for (const page of s.ctx.store.filesEncodedPaged(only)) {
    for (const [filename, checktxt] of page) {
      if (!s.ctx.matcher.matchFileHost(urlDecode(filename), myname, s.peer!, keys)) continue;
      out += `${checktxt}\t${filename}\n`;
      if (out.length >= BATCH) {
        await s.conn.writer.sendText(out as BStr);
        out = '';
      }
    }
  }
  if (out) await s.conn.writer.sendText(out);
  return null;
}
