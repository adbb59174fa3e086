/**
 * Marking a file dirty (check.c csync_mark): one row per peer of every active
 * group matching the file (only groups containing `thispeer` when given), the
 * group that first yields a peer decides `myname`; actions are scheduled too.
 */
import { scheduleActions } from '../actions/schedule.js';
import { log } from '../util/log.js';
import type { BStr } from '../util/bytes.js';
import type { RunContext } from './context.js';

/** Where mark messages go (default: the process logger). */
export interface MarkLog {
  debug(lv: number, line: BStr): void;
}

export function markDirty(ctx: RunContext, file: BStr, thisPeer: BStr | null = null, peerFilter: BStr | null = null,
  out: MarkLog = log): void {
  const peers = ctx.matcher.findPeers(file, thisPeer);
  scheduleActions(ctx, file, thisPeer === null);
  if (peers.length === 0) {
    out.debug(2, `Not in one of my groups: ${file} (${thisPeer ?? 'NULL'})`);
    return;
  }
  out.debug(1, `Marking file as dirty: ${file}`);
  for (const p of peers) {
    if (peerFilter !== null && peerFilter !== p.peername) continue;
    ctx.store.markDirty(file, ctx.newForce, p.myname, p.peername);
  }
}
