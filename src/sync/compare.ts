/**
 * -T, -TT and -TI (protocol.md §6.6; update.c csync_insynctest*): compare this
 * host's file table with a peer's via LIST, print the differences (or diffs),
 * optionally mark them dirty. Returns csync2's mode result (2 = in sync).
 *
 * Argument forms: none (every pair), `file` (that file, every pair; with -TT a
 * diff against every peer of the file), `me peer` (that pair), `me peer file`
 * (that pair and file; with -TT one diff and never exit 2).
 */
import type { Options } from '../cli/options.js';
import { prefixEncode } from '../config/prefix.js';
import { connectToHost, connectionFailedMessage, isOkStatus, type HostConnectOptions } from '../net/client.js';
import { realName } from '../fs/realname.js';
import { urlDecode } from '../protocol/urlencode.js';
import type { BStr } from '../util/bytes.js';
import type { EncodedFileRow } from '../db/store.js';
import { errorCount, log } from '../util/log.js';
import { diffWithPeer, type Connector } from './compare-diff.js';
import { ListReader, listRequest } from './compare-list.js';
import { mergeLists, type Difference, type ListRow } from './compare-merge.js';
import { createReporter, jsonWanted, type PairResult, type Reporter } from './compare-report.js';
import type { RunContext } from './context.js';
import { markDirty } from './mark.js';

/** -I, -X, -U as csync2's init_run bits. */
interface Marking {
  /** -TI: mark L and X files. */
  local: boolean;
  /** -TIX: also mark R files (their removal gets pushed). */
  remote: boolean;
  /** -TIU: only for the compared peer. */
  onlyThisPeer: boolean;
}

export async function testSync(opts: Options, ctx: RunContext): Promise<number> {
  const marking: Marking = {
    local: opts.initRun,
    remote: opts.initRun && opts.initRunWithRemovals,
    onlyThisPeer: opts.initRun && opts.initRunStraight,
  };
  // The JSON form describes -T's L/R/X lines; -TT keeps diff's own output.
  const reporter = createReporter(jsonWanted() && !opts.testAutoDiff);
  const t = new InSyncTest(opts, ctx, marking, reporter);
  const a = opts.args;
  let retval = -1;
  switch (a.length) {
    case 3: {
      const file = t.fileArgument(a[2]!);
      if (opts.testAutoDiff) {
        ctx.matcher.compareMode = true;
        await diffWithPeer(ctx, t.connector, a[0]!, a[1]!, file);
        retval = 0;
      } else if (await t.pair(a[0]!, a[1]!, false, file)) {
        retval = 2;
      }
      break;
    }
    case 2:
      if (await t.pair(a[0]!, a[1]!, opts.testAutoDiff, null)) retval = 2;
      break;
    case 1: {
      const file = t.fileArgument(a[0]!);
      if (opts.testAutoDiff) ctx.matcher.compareMode = true;
      if (await t.all(opts.testAutoDiff, file)) retval = 2;
      break;
    }
    default:
      if (await t.all(opts.testAutoDiff, null)) retval = 2;
  }
  reporter.finish(errorCount.value);
  return retval;
}

class InSyncTest {
  readonly connector: Connector;

  constructor(opts: Options, private readonly ctx: RunContext,
    private readonly marking: Marking, private readonly reporter: Reporter) {
    this.connector = (peer: BStr): HostConnectOptions => ({
      peer, port: opts.port, myhostname: opts.hostname, bind: opts.bindToHostname, cfgName: opts.cfgName,
      groupList: opts.groupList, nossl: ctx.cfg.nossl, systemDir: opts.systemDir, store: ctx.store,
    });
  }

  /** A file argument: its real name checked for usefulness, then prefix-encoded. */
  fileArgument(arg: BStr): BStr {
    const real = realName(arg);
    if (!this.ctx.matcher.isUseful(real, false)) log.debug(0, `WARNING: Parameter will be ignored: ${real}`);
    return prefixEncode(this.ctx.cfg, real);
  }

  /**
   * Every pair: local names and, per name, peers in csync2's order (both lists
   * built by prepending unseen names while walking the groups in run-time order).
   * `-TT file` instead diffs the file against each of its peers (always "in sync").
   */
  async all(autoDiff: boolean, file: BStr | null): Promise<boolean> {
    const { matcher, cfg } = this.ctx;
    if (autoDiff && file !== null) {
      for (const p of matcher.findPeers(file, null)) await diffWithPeer(this.ctx, this.connector, p.myname, p.peername, file);
      return true;
    }
    const mynames: BStr[] = [];
    for (const g of cfg.groups) {
      if (g.active && g.myname !== null && !mynames.includes(g.myname)) mynames.unshift(g.myname);
    }
    let inSync = true;
    for (const myname of mynames) {
      const peers: BStr[] = [];
      for (const g of cfg.groups) {
        if (!g.active || g.myname !== myname) continue;
        for (const h of g.hosts) if (!peers.includes(h.name)) peers.unshift(h.name);
      }
      for (const peer of peers) {
        log.debug(1, `Running in-sync check for ${myname} <-> ${peer}.`);
        if (!(await this.pair(myname, peer, autoDiff, file))) inSync = false;
      }
    }
    return inSync;
  }

  /** One pair (csync_insynctest): true when in sync. */
  async pair(myname: BStr, peer: BStr, autoDiff: boolean, file: BStr | null): Promise<boolean> {
    const errorsBefore = errorCount.value;
    const result: PairResult = {
      myname, peer, status: 'error', localOnly: 0, remoteOnly: 0, differs: 0, error: null,
    };
    const failed = (message: BStr): false => {
      log.debug(0, message);
      errorCount.value++;
      result.error = message;
      this.reporter.pair(result);
      return false;
    };

    const { cfg, matcher, store } = this.ctx;
    const known = cfg.groups.some((g) => g.active && g.myname === myname && g.hosts.some((h) => h.name === peer));
    if (!known) return failed('Host pair not found in configuration.');

    const link = await connectToHost(this.connector(peer));
    if (!link) return failed(connectionFailedMessage(peer));

    const diffs: BStr[] = [];
    let inSync: boolean;
    let reader: ListReader;
    try {
      link.send(`HELLO ${myname}`);
      if (!isOkStatus(await link.readStatus(null))) {
        await link.close();
        return failed(`ERROR: remote host ${peer} did not accept my identification.`);
      }
      link.send(listRequest(cfg.groups, myname, peer, file));
      reader = new ListReader(link);
      const local = localRows(store.filesEncodedPaged(file), (f) => matcher.matchFileHost(f, myname, peer, null));
      inSync = await mergeLists(local, () => reader.next(), (d) => {
        const marked = this.mark(d, peer);
        if (d.kind === 'L') result.localOnly++;
        else if (d.kind === 'R') result.remoteOnly++;
        else result.differs++;
        if (autoDiff) diffs.unshift(d.file);
        else this.reporter.difference(myname, peer, d, marked);
      });
      await link.bye();
    } catch (err) {
      link.conn.destroy();
      throw err;
    }

    for (const f of diffs) await diffWithPeer(this.ctx, this.connector, myname, peer, f);

    if (errorCount.value > errorsBefore) {
      result.status = 'error';
      result.error = reader.error ?? `${errorCount.value - errorsBefore} error(s) while talking to ${peer}`;
    } else {
      result.status = inSync ? 'in_sync' : 'differences';
    }
    this.reporter.pair(result);
    return inSync;
  }

  /** -TI / -TIX / -TIU: mark the difference dirty; true when it was marked. */
  private mark(d: Difference, peer: BStr): boolean {
    const wanted = d.kind === 'R' ? this.marking.remote : this.marking.local;
    if (!wanted) return false;
    markDirty(this.ctx, d.file, null, this.marking.onlyThisPeer ? peer : null);
    return true;
  }
}

/** The file rows of this pair, decoded, in the table's (encoded-name) order. */
function* localRows(pages: Iterable<EncodedFileRow[]>, belongs: (file: BStr) => boolean): Iterable<ListRow> {
  for (const page of pages) {
    for (const [filename, encodedChecktxt] of page) {
      const file = urlDecode(filename);
      if (belongs(file)) yield { file, encodedChecktxt };
    }
  }
}
