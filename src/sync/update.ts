/**
 * The update half of -u, -x and -cu (protocol.md §6.1): push dirty rows to
 * every peer that has some. Peers are taken in csync2's order (reverse of
 * `SELECT peername FROM dirty GROUP BY peername`, filtered by -P) and served
 * several at once; each peer's messages are held back until the peers before
 * it have printed theirs, so the output reads exactly like csync2's.
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
  // lstat() calls: one peer after the other then.
  const fanout = log.enabled(2) ? 1 : PEER_FANOUT;

  // Certificates are pinned in csync2's peer order, one after the other.
  let pinChain: Promise<void> = Promise.resolve();
  const tasks = peers.map((peer) => {
    const out = root.child();
    const errors = { value: 0 };
    let pinDone!: () => void;
    const prevPin = pinChain;
    pinChain = new Promise<void>((r) => { pinDone = r; });
    return {
      peer, out, errors,
      run: async (): Promise<void> => {
        try {
          await updateHost({
            ctx, peer, filter, recursive: opts.recursive, dryRun: opts.dryRun, out, errors,
            progress: progress.peer(peer),
            connect: {
              port: opts.port, myhostname: ctx.myhostname, bind: opts.bindToHostname, cfgName: opts.cfgName,
              groupList: opts.groupList, nossl: ctx.cfg.nossl, systemDir: opts.systemDir, store: ctx.store,
              // The check follows right after this hook; the next peer's waits for it.
              beforePin: async () => { await prevPin; queueMicrotask(pinDone); },
            },
          });
        } finally {
          pinDone();
          out.close();
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
  try {
    await Promise.all(Array.from({ length: Math.min(fanout, tasks.length) }, worker));
  } finally {
    progress.close();
    for (const t of tasks) errorCount.value += t.errors.value;
  }
  if (failure !== null) throw failure;
  return -1;
}
