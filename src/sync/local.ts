/**
 * The local modes that only touch the database: -h, -m, -f, -H, -L, -M, -S, -R.
 * Listings return csync2's mode result: 2 when nothing was printed, else -1.
 */
import { prefixEncode } from '../config/prefix.js';
import { log } from '../util/log.js';
import type { BStr } from '../util/bytes.js';
import type { RunContext } from './context.js';
import { markDirty } from './mark.js';

export type Print = (line: BStr) => void;

/** -h [-r] file..: realnames go in as given (not prefix-encoded). */
export function addHints(ctx: RunContext, realNames: BStr[], recursive: boolean): void {
  for (const name of realNames) ctx.store.addHint(name, recursive);
}

/** -m [-r] file..: mark the prefix-encoded names, with -r every known file below too. */
export function markFiles(ctx: RunContext, realNames: BStr[], recursive: boolean): void {
  for (const real of realNames) {
    const name = prefixEncode(ctx.cfg, real);
    markDirty(ctx, name);
    if (recursive) {
      // csync2: the row for the name itself (if known) UNION ALL the rows below it; `/` = all rows.
      const rows = real === '/' ? ctx.store.fileNamesBelow('/')
        : [...(ctx.store.getChecktxt(name) !== null ? [name] : []), ...ctx.store.fileNamesBelow(name)];
      for (const n of rows) markDirty(ctx, n);
    }
  }
}

/** -f [-r] file..: set forced on existing dirty rows. */
export function forceFiles(ctx: RunContext, realNames: BStr[], recursive: boolean): void {
  for (const real of realNames) {
    const scope = !recursive ? 'exact' : real === '/' ? 'all' : 'below';
    ctx.store.forceDirty(prefixEncode(ctx.cfg, real), scope);
  }
}

export function listHints(ctx: RunContext, print: Print): number {
  let result = 2;
  for (const h of ctx.store.hints(true)) {
    print(`${h.recursiveText}\t${h.filename}`);
    result = -1;
  }
  return result;
}

export function listFiles(ctx: RunContext, print: Print): number {
  let result = 2;
  for (const f of ctx.store.allFiles()) {
    if (!ctx.matcher.findNext(f.filename, null)) continue;
    print(`${f.checktxt}\t${f.filename}`);
    result = -1;
  }
  return result;
}

export function listDirty(ctx: RunContext, print: Print): number {
  let result = 2;
  for (const d of ctx.store.allDirty()) {
    if (!ctx.matcher.findNext(d.filename, null)) continue;
    print(`${d.forced ? 'force' : 'chary'}\t${d.myname}\t${d.peername}\t${d.filename}`);
    result = -1;
  }
  return result;
}

/** -S myname peername */
export function listSync(ctx: RunContext, myname: BStr, peername: BStr, print: Print): number {
  let result = 2;
  for (const f of ctx.store.allFiles()) {
    if (!ctx.matcher.matchFileHost(f.filename, myname, peername, null)) continue;
    print(`${f.checktxt}\t${f.filename}`);
    result = -1;
  }
  return result;
}

/** -R: drop dirty rows whose (file, myname, peer) no longer fits a group, and file rows in no group. */
export function removeOld(ctx: RunContext): void {
  const { matcher, store } = ctx;
  const staleDirty = store.allDirty().filter((d) => {
    for (let g = matcher.findNext(d.filename, null); g; g = matcher.findNext(d.filename, g)) {
      if (g.myname === d.myname && g.hosts.some((h) => h.name === d.peername)) return false;
    }
    return true;
  });
  // csync2 collects by prepending, so it deletes in reverse order.
  for (const d of staleDirty.reverse()) {
    log.debug(1, `Removing ${d.filename} (${d.peername}) from dirty db.`);
    store.deleteDirty(d.filename, d.peername);
  }
  const staleFiles = store.allFiles().filter((f) => !matcher.findNext(f.filename, null));
  for (const f of staleFiles.reverse()) {
    log.debug(1, `Removing ${f.filename} from file db.`);
    store.deleteFile(f.filename);
  }
}
