/**
 * The heart of -T (update.c csync_insynctest): walk this host's file rows and
 * the peer's LIST rows side by side and report what differs. Both lists arrive
 * sorted by their url-ENCODED names while the walk compares DECODED names with
 * strcmp, and a remote row held back for the next local row is forgotten when
 * the local rows run out. Both quirks change csync2's output (a file can show
 * up as R and L at once, or not at all), so they are reproduced here as they are.
 */
import { urlDecode } from '../protocol/urlencode.js';
import type { BStr } from '../util/bytes.js';

/** L = only here, R = only on the peer, X = both have it with a different checktxt. */
export type DiffKind = 'L' | 'R' | 'X';

/**
 * One row of either side: decoded name, checktxt as stored and sent (url-encoded; decoded
 * only where it is shown or the encodings differ, see checktxtOf(): on a big tree nearly all
 * rows are equal, and a decoded copy of every checktxt on both sides was garbage for nothing).
 */
export interface ListRow {
  file: BStr;
  encodedChecktxt: BStr;
}

/** The row's checktxt, decoded. */
export function checktxtOf(row: ListRow): BStr {
  return urlDecode(row.encodedChecktxt);
}

/** csync2 compares the decoded texts: equal encodings decode equally, others are decoded to tell. */
function sameChecktxt(a: ListRow, b: ListRow): boolean {
  return a.encodedChecktxt === b.encodedChecktxt || checktxtOf(a) === checktxtOf(b);
}

export interface Difference {
  kind: DiffKind;
  file: BStr;
  /** This host's row (null for R). */
  local: ListRow | null;
  /** The peer's row (null for L). */
  remote: ListRow | null;
}

/**
 * The peer's next row, or null once its list ended (end line, error or end of file); a value at
 * once when the row has arrived, so that the walk awaits only when it must wait for the peer.
 */
export type RemoteNext = () => ListRow | null | Promise<ListRow | null>;

/** strcmp of byte strings (char codes are bytes; no NUL can occur after decoding). */
function strcmp(a: BStr, b: BStr): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * Runs the walk; `report` is called for every difference in csync2's order.
 * Resolves true when nothing differed.
 */
export async function mergeLists(local: Iterable<ListRow>, remoteNext: RemoteNext,
  report: (d: Difference) => void): Promise<boolean> {
  let inSync = true;
  const emit = (kind: DiffKind, l: ListRow | null, r: ListRow | null): void => {
    inSync = false;
    report({ kind, file: (l ?? r)!.file, local: l, remote: r });
  };
  let remote: ListRow | null = null;
  let reuse = false;
  let remoteEof = false;

  for (const l of local) {
    if (remoteEof) {
      emit('L', l, null);
      continue;
    }
    if (!reuse) {
      let got = remoteNext();
      if (got instanceof Promise) got = await got;
      remote = got;
      if (remote === null) {
        remoteEof = true;
        emit('L', l, null);
        continue;
      }
    }
    let r = remote!;
    let rel = strcmp(l.file, r.file);
    while (rel > 0) {
      emit('R', null, r);
      let next = remoteNext();
      if (next instanceof Promise) next = await next;
      if (next === null) break;
      remote = r = next;
      rel = strcmp(l.file, r.file);
    }
    if (rel > 0) { // the peer's list ended while catching up
      remoteEof = true;
      remote = null;
      emit('L', l, null);
      continue;
    }
    if (rel < 0) {
      emit('L', l, null);
      reuse = true;
    } else {
      reuse = false;
      if (!sameChecktxt(l, r)) emit('X', l, r);
    }
  }

  // A row still held back (reuse) is not reported: csync2 reads past it.
  if (!remoteEof) {
    for (;;) {
      let r = remoteNext();
      if (r instanceof Promise) r = await r;
      if (r === null) break;
      emit('R', null, r);
    }
  }
  return inSync;
}
