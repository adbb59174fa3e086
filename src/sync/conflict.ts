/**
 * Conflict resolution on the pushing client (protocol.md §6.4): when the peer
 * answers `File is also marked dirty here!`, csync2 decides here whether this
 * host wins (and then pushes again, forced) or leaves the file dirty.
 * Groups are taken in run-time order (last declared first), like csync2.
 */
import type { Matcher } from '../config/match.js';
import type { AutoMethod } from '../config/model.js';
import type { BStr } from '../util/bytes.js';

/** get_master_slave_status: some group with the file, where this host is not a slave, lists the peer as a slave. */
export function winsAsMaster(matcher: Matcher, peer: BStr, file: BStr): boolean {
  for (let g = matcher.findNext(file, null); g; g = matcher.findNext(file, g)) {
    if (g.localIsSlave) continue;
    if (g.hosts.some((h) => h.slave && h.name === peer)) return true;
  }
  return false;
}

/** The `auto` method that applies, with `left`/`right` already decided by the peer's side. */
export type AutoDecision = AutoMethod | 'left-right-lost';

/** get_auto_method: the first group with the file that lists the peer decides. */
export function autoDecision(matcher: Matcher, peer: BStr, file: BStr): AutoDecision {
  for (let g = matcher.findNext(file, null); g; g = matcher.findNext(file, g)) {
    const h = g.hosts.find((x) => x.name === peer);
    if (!h) continue;
    if (g.auto === 'left' && h.leftSide) return 'left-right-lost';
    if (g.auto === 'right' && !h.leftSide) return 'left-right-lost';
    return g.auto;
  }
  return 'none';
}

/** The word csync2 prints for a measured test. */
export function measuredTestName(m: 'younger' | 'older' | 'bigger' | 'smaller'): BStr {
  return m === 'younger' || m === 'older' ? 'younger/older' : 'bigger/smaller';
}

/** The command that fetches the peer's value for a measured test. */
export function measuredTestCommand(m: 'younger' | 'older' | 'bigger' | 'smaller'): 'GETTM' | 'GETSZ' {
  return m === 'younger' || m === 'older' ? 'GETTM' : 'GETSZ';
}

/**
 * The local value wins iff (local > remote) == (method is younger or bigger):
 * ties go to `older` and `smaller`. A remote -1 (file gone there) always wins.
 */
export function measuredTestWon(m: 'younger' | 'older' | 'bigger' | 'smaller', local: number, remote: number): boolean {
  if (remote === -1) return true;
  return (local > remote) === (m === 'younger' || m === 'bigger');
}

/** C's atol(): optional blanks and sign, then digits; anything else stops (no digits = 0). */
export function atol(text: BStr): number {
  const m = /^[ \t\n\v\f\r]*([+-]?)([0-9]*)/.exec(text);
  if (!m || m[2] === '') return 0;
  const v = Number(m[2]);
  return m[1] === '-' ? -v : v;
}
