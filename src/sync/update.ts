/**
 * The update half of -u, -x and -cu (protocol.md §6.1): push dirty rows to
 * every peer that has some. Peers are taken in csync2's order (reverse of
 * `SELECT peername FROM dirty GROUP BY peername`, filtered by -P) and, for a
 * push of more than SMALL_PUSH_ROWS rows, served several at once; each peer's
 * messages are held back until the peers before it have printed theirs, so the
 * output reads like csync2's.
 *
 * One thing served at once cannot give: csync2's later peers read their rows
 * after the earlier peers are done, so they also walk the files an earlier
 * peer's missing parent directory marked dirty for them. A peer that had read
 * its rows before such marks walks just those rows once the earlier peers are
 * done, before its BYE (the same files and rows in the end; the lines of that
 * walk come after the peer's others). A peer that had no row to walk then gets
 * its session for them afterwards. Marks for a peer before the marking one stay: its rows are
 * marked dirty again at the end.
 * Returns csync2's mode result (-1 = no special exit code).
 */
import type { Options } from '../cli/options.js';
import type { RunContext } from './context.js';
import type { BStr } from '../util/bytes.js';
import { errorCount, log } from '../util/log.js';
import { updateHost } from './update-host.js';
import { OutNode } from './update-output.js';
import { Progress } from './progress.js';

/** Peers served at the same time. */
const PEER_FANOUT = 4;

/**
 * Up to this many dirty rows (all peers), the peers are served one after the other, exactly as
 * csync2 does: with the commands pipelined such a push is short anyway, and its lines and dirty
 * rows are then csync2's in every case, a peer's missing directory included. Bigger pushes, where
 * serving peers at once pays, are served several peers at once.
 */
const SMALL_PUSH_ROWS = 256;

/** csync2's -P test: the peer equals a comma item, case-insensitively. */
export function peerActive(peerList: BStr | null, peer: BStr): boolean {
  if (peerList === null) return true;
  const p = peer.toLowerCase();
  return peerList.split(',').some((item) => item.toLowerCase() === p);
}

/** `filter` = the real names given on the command line (null = every dirty row). */
export async function updatePeers(opts: Options, ctx: RunContext, filter: BStr[] | null): Promise<number> {
  const peers = ctx.store.dirtyPeers().reverse().filter((p) => peerActive(opts.peerList, p));
  if (peers.length === 0) return -1;
  // Our dirty reads and deletions must not sit in a long write transaction another process waits on.
  ctx.store.commit();

  const progress = new Progress(process.stderr.isTTY === true && opts.debugLevel === 0);
  const root = OutNode.root(progress);
  // -vv prints SQL statements as they run, and the -vvv check dump depends on the order of
  // lstat() calls: one peer after the other then, and for a small push (SMALL_PUSH_ROWS).
  const fanout = log.enabled(2) || peers.length < 2 || ctx.store.dirtyCount() <= SMALL_PUSH_ROWS ? 1 : PEER_FANOUT;

  // Per peer: has its session read its rows yet, which rows earlier peers marked for it since,
  // and did it walk them (served) before its BYE.
  const late = peers.map(() => ({ read: false, names: new Set<BStr>(), served: false }));
  const finished: Promise<void>[] = [];
  const finish: (() => void)[] = [];
  for (let j = 0; j < peers.length; j++) finished.push(new Promise<void>((r) => finish.push(r)));
  // The marks of a peer's missing parent, for the peers before it (csync2 makes them once those are done).
  const earlierMarks: EarlierMarks[] = [];
  // Per peer: every row an earlier peer marked for it after it had read its rows.
  const lateEver = peers.map(() => new Set<BStr>());
  const marked = (by: number, names: BStr[], parent: BStr): void => {
    if (fanout === 1) return; // one peer after the other: the later ones read their rows after the marks
    const rows: [number, BStr, BStr][] = [];
    for (const n of names) {
      for (const hit of ctx.matcher.findPeers(n, peers[by]!)) {
        const j = peers.indexOf(hit.peername);
        if (j >= 0 && j < by) rows.push([j, n, hit.myname]);
      }
    }
    earlierMarks.push({ by, parent, rows });
    for (let j = by + 1; j < peers.length; j++) {
      if (!late[j]!.read) continue; // its rows are read later: they include these
      const dirty = new Set(ctx.store.dirtyForPeer(peers[j]!).map((r) => r.filename));
      for (const n of names) {
        if (!dirty.has(n)) continue;
        late[j]!.names.add(n);
        lateEver[j]!.add(n);
      }
    }
  };
  const session = (j: number, out: OutNode, errors: { value: number }, beforePin: () => Promise<void>,
    only: Set<BStr> | null): Promise<void> => updateHost({
    ctx, peer: peers[j]!, filter, recursive: opts.recursive, dryRun: opts.dryRun, out, errors,
    progress: progress.peer(peers[j]!), only,
    onRowsRead: () => {
      late[j]!.read = true;
      late[j]!.names.clear();
    },
    onMarked: (names, parent) => marked(j, names, parent),
    lateRows: async () => {
      await Promise.all(finished.slice(0, j));
      late[j]!.served = true;
      const names = late[j]!.names;
      late[j]!.names = new Set();
      return names;
    },
    connect: {
      port: opts.port, myhostname: ctx.myhostname, bind: opts.bindToHostname, cfgName: opts.cfgName,
      groupList: opts.groupList, nossl: ctx.cfg.nossl, systemDir: opts.systemDir, store: ctx.store, beforePin,
    },
  });

  // Certificates are pinned in csync2's peer order, one after the other.
  let pinChain: Promise<void> = Promise.resolve();
  const tasks = peers.map((peer, j) => {
    const out = root.child();
    const errors = { value: 0 };
    let pinDone!: () => void;
    const prevPin = pinChain;
    pinChain = new Promise<void>((r) => { pinDone = r; });
    return {
      peer, out, errors,
      run: async (): Promise<void> => {
        try {
          // The check follows right after this hook; the next peer's waits for it.
          await session(j, out, errors, async () => { await prevPin; queueMicrotask(pinDone); }, null);
        } finally {
          pinDone();
          out.close();
          finish[j]!();
        }
      },
    };
  });

  let next = 0;
  let failure: unknown = null;
  const worker = async (): Promise<void> => {
    while (next < tasks.length && failure === null) {
      const t = tasks[next++]!;
      try {
        await t.run();
      } catch (err) {
        failure ??= err;
      }
    }
  };
  const lateErrors = { value: 0 };
  try {
    await Promise.all(Array.from({ length: Math.min(fanout, tasks.length) }, worker));
    // Peers that had nothing to walk when they started (no connection yet), in peer order.
    for (let j = 0; j < peers.length && failure === null; j++) {
      if (late[j]!.served || late[j]!.names.size === 0 || tasks[j]!.errors.value > 0) continue;
      const out = root.child();
      try {
        await session(j, out, lateErrors, () => Promise.resolve(), new Set(late[j]!.names));
      } finally {
        out.close();
      }
    }
  } catch (err) {
    failure ??= err;
  } finally {
    progress.close();
    for (const t of tasks) errorCount.value += t.errors.value;
    errorCount.value += lateErrors.value;
    if (fanout > 1) remarkForEarlierPeers(ctx, peers, earlierMarks, lateEver);
  }
  if (failure !== null) throw failure;
  return -1;
}

/** The rows one peer's missing parent marked dirty for the peers before it. */
interface EarlierMarks {
  /** Index of the marking peer in the update's peer order. */
  by: number;
  /** The missing directory. */
  parent: BStr;
  rows: [peer: number, name: BStr, myname: BStr][];
}

/**
 * csync2 makes a peer's marks once the peers before it are done: they stay dirty for those, even
 * where one served at once walked the row after the mark. Not so for a missing parent that an
 * earlier peer had marked for this one after it read its rows (`lateEver`), and that this one then
 * made: csync2's walk would have made it before its contents. (One peer at a time, at -vv or for
 * a small push, is csync2's order already: no call then.)
 */
function remarkForEarlierPeers(ctx: RunContext, peers: BStr[], marks: EarlierMarks[], lateEver: Set<BStr>[]): void {
  const stillDirty = new Map<number, Map<BStr, boolean>>();
  const dirtyFor = (j: number): Map<BStr, boolean> => {
    let rows = stillDirty.get(j);
    if (!rows) stillDirty.set(j, rows = new Map(ctx.store.dirtyForPeer(peers[j]!).map((r) => [r.filename, r.forced])));
    return rows;
  };
  for (const { by, parent, rows } of marks) {
    if (lateEver[by]!.has(parent) && !dirtyFor(by).has(parent)) continue;
    for (const [j, name, myname] of rows) {
      if (dirtyFor(j).get(name) !== ctx.newForce) ctx.store.markDirty(name, ctx.newForce, myname, peers[j]!);
    }
  }
}
