/**
 * One csync2 run, in the order of csync2's main() (spec cli.md §1): `-k`, the
 * csync2.lock stop switch, options, logging, config, database, the mode, and
 * the common ending. Errors from the modules arrive as typed exceptions and are
 * turned into csync2's messages and exit codes here and nowhere else.
 */
import { existsSync, openSync, constants as C } from 'node:fs';
import { hostname as osHostname } from 'node:os';
import { parseArgs } from './args.js';
import { print, printLine, flushStdout } from './output.js';
import type { Options } from './options.js';
import { loadConfig, hasActiveGroup } from '../config/load.js';
import { Matcher } from '../config/match.js';
import { SCANNER_READ_FAILED } from '../config/flex.js';
import { resolveDatabase } from '../db/location.js';
import { StateStore } from '../db/store.js';
import { realName } from '../fs/realname.js';
import type { Checker, CheckOptions } from '../sync/check.js';
import type { RunContext } from '../sync/context.js';
import { runActions } from '../actions/run.js';
import { CsyncError, FatalError, UsageError } from '../util/errors.js';
import { log, errorCount } from '../util/log.js';
import { rawArgs, fromUtf8, toBuf, type BStr } from '../util/bytes.js';

/** Returns the process exit code. */
export async function run(argv: BStr[] = rawArgs()): Promise<number> {
  if (argv.length === 2 && argv[0] === '-k') {
    const { createKeyFile } = await import('./keygen.js');
    return createKeyFile(argv[1]!, (s) => process.stderr.write(toBuf(s)));
  }

  const systemDir = process.env['CSYNC2_SYSTEM_DIR'] ?? '/etc';
  const lockFile = `${systemDir}/csync2.lock`;
  if (existsSync(lockFile) || isDanglingLink(lockFile)) {
    printLine(`Found ${fromUtf8(lockFile)}`);
    flushStdout();
    return 1;
  }

  let store: StateStore | null = null;
  try {
    let opts: Options;
    try {
      opts = parseArgs(argv, { hostname: () => fromUtf8(osHostname()), systemDir });
    } catch (err) {
      if (err instanceof UsageError) {
        if (err.message) process.stderr.write(toBuf(err.message + '\n'));
        print((await import('./help.js')).helpText());
        flushStdout();
        return 1;
      }
      throw err;
    }
    await configureLogger(opts);

    if (opts.mode === 'server' || opts.mode === 'single' || opts.mode === 'inetd') {
      const { runServer } = await import('../server/main.js');
      return await runServer(opts);
    }
    log.printTime();

    const ctx = await openContext(opts);
    store = ctx.store;
    const retval = await runMode(opts, ctx);

    await runActions(ctx.store);
    ctx.store.close();
    store = null;
    return finish(opts, retval);
  } catch (err) {
    flushStdout();
    if (err instanceof CsyncError && !(err instanceof UsageError)) {
      log.debug(0, err.message);
      if (err.detail) log.debug(0, err.detail);
    } else {
      throw err;
    }
    // csync_fatal() closes (and so commits) the database before exiting.
    try { store?.close(); } catch { /* the error above is what matters */ }
    log.resetPrintTime();
    log.printTime();
    // flex's own fatal error (a directory given as config file) exits with 2.
    return err.message === SCANNER_READ_FAILED ? 2 : 1;
  } finally {
    flushStdout();
  }
}

function isDanglingLink(path: string): boolean {
  try {
    return openSync(path, C.O_RDONLY | C.O_NOFOLLOW) < 0;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ELOOP';
  }
}

async function configureLogger(opts: Options): Promise<void> {
  log.level = opts.debugLevel;
  log.timestamps = opts.timestamps;
  if (opts.timestampFile !== null) {
    log.timestampFd = openSync(toBuf(opts.timestampFile), C.O_WRONLY | C.O_CREAT | C.O_APPEND, 0o666);
  }
  if (opts.syslog) log.syslog = new (await import('../util/syslog.js')).LoggerProcessSink();
}

/** Config + database, exactly in csync2's order and with its messages. */
export async function openContext(opts: Options): Promise<RunContext> {
  if (!/^[a-z0-9]*$/.test(opts.cfgName)) throw new FatalError('Config names are limited to [a-z0-9]+.');
  const file = opts.cfgName ? `${opts.systemDir}/csync2_${opts.cfgName}.cfg` : `${opts.systemDir}/csync2.cfg`;
  log.debug(2, `Config-File:   ${file}`);
  const cfg = await loadConfig({
    file, systemDir: opts.systemDir, myhostname: opts.hostname,
    groupList: opts.groupList, peerList: opts.peerList,
  });
  const loc = resolveDatabase(opts.database ?? cfg.database, opts.hostname, opts.cfgName);
  log.debug(2, `My hostname is ${opts.hostname}.`);
  log.debug(2, `Database-File: ${loc.url}`);
  if (!hasActiveGroup(cfg)) {
    throw new FatalError(`This host (${opts.hostname}) is not a member of any configured group.`);
  }
  const store = StateStore.open(loc, {
    noBigTransactions: opts.noBigTransactions, asyncMode: opts.asyncDb, lockTimeout: cfg.lockTimeout,
    // Not for a push: the pages it reads through the map count in its RSS (see useMmap()). -x and -cu
    // check with it and turn to a push's reading before they push (update(), forPush()).
    mmap: opts.mode !== 'update',
  });
  return {
    cfg, store, matcher: new Matcher(cfg), newForce: opts.newForce, initRun: opts.initRun,
    dumpDirFd: opts.dumpDirFd, myhostname: opts.hostname,
  };
}

/** The mode's result code: >= 0 is the exit code when there were no errors; -1 = "no special code". */
async function runMode(opts: Options, ctx: RunContext): Promise<number> {
  const real = (): BStr[] => opts.args.map((a) => realName(a));
  const warnUseless = (names: BStr[], recursive: boolean): void => {
    for (const n of names) {
      if (!ctx.matcher.isUseful(n, recursive)) log.debug(0, `WARNING: Parameter will be ignored: ${n}`);
    }
  };
  // The check and the local modes' modules are loaded by the modes that use them (not by a push).
  const checker = async (o?: CheckOptions): Promise<Checker> => new (await import('../sync/check.js')).Checker(ctx, o);
  const local = (): Promise<typeof import('../sync/local.js')> => import('../sync/local.js');

  switch (opts.mode) {
    case 'simple': {
      if (opts.args.length === 0) {
        (await checker()).check('/', true);
        return update(opts, ctx, null);
      }
      const names = real();
      const c = await checker();
      for (const n of names) {
        warnUseless([n], opts.recursive);
        c.check(n, opts.recursive);
      }
      return update(opts, ctx, names);
    }
    case 'hint': {
      for (const n of real()) {
        warnUseless([n], opts.recursive);
        ctx.store.addHint(n, opts.recursive);
      }
      return -1;
    }
    case 'check':
    case 'checkAndUpdate': {
      const c = await checker();
      if (opts.args.length === 0) {
        for (const h of ctx.store.hints(false).reverse()) {
          c.check(h.filename, h.recursive !== 0);
          ctx.store.deleteHint(h.filename, h.recursive);
        }
      } else {
        for (const n of real()) {
          warnUseless([n], opts.recursive);
          c.check(n, opts.recursive);
        }
      }
      if (opts.mode === 'check') return -1;
      return update(opts, ctx, opts.args.length ? real() : null);
    }
    case 'update': {
      if (opts.args.length === 0) return update(opts, ctx, null);
      const names = real();
      warnUseless(names, opts.recursive);
      return update(opts, ctx, names);
    }
    case 'compare': {
      ctx.matcher.compareMode = true;
      const c = await checker({ compareMode: true, onListed: printLine });
      for (const n of real()) {
        warnUseless([n], opts.recursive);
        c.check(n, opts.recursive);
      }
      return -1;
    }
    case 'mark': {
      const names = real();
      for (const n of names) {
        warnUseless([n], opts.recursive);
        (await local()).markFiles(ctx, [n], opts.recursive);
      }
      return -1;
    }
    case 'force':
      (await local()).forceFiles(ctx, real(), opts.recursive);
      return -1;
    case 'listHints': return (await local()).listHints(ctx, printLine);
    case 'listFiles': return (await local()).listFiles(ctx, printLine);
    case 'listDirty': return (await local()).listDirty(ctx, printLine);
    case 'listSync': return (await local()).listSync(ctx, opts.args[0]!, opts.args[1]!, printLine);
    case 'removeOld':
      if (opts.groupList !== null) throw new FatalError('Never run -R with -G!');
      (await local()).removeOld(ctx);
      return -1;
    case 'test': {
      const { testSync } = await import('../sync/compare.js');
      return testSync(opts, ctx);
    }
    default:
      throw new FatalError(`csync2-ts: mode ${opts.mode} is not implemented yet.`);
  }
}

async function update(opts: Options, ctx: RunContext, names: BStr[] | null): Promise<number> {
  // Nothing dirty (the usual cron run): the push modules (~40 ms to load) are not needed.
  if (ctx.store.dirtyPeers().length === 0) return -1;
  ctx.store.forPush(); // the check of -x and -cu read through the map with a big cache; the push does without
  const { updatePeers } = await import('../sync/update.js');
  return updatePeers(opts, ctx, names);
}

/** The common ending of main(). */
function finish(opts: Options, retval: number): number {
  log.debug(1, 'Connection closed.');
  if (errorCount.value !== 0 || (log.messagesPrinted > 0 && opts.debugLevel > 0)) {
    log.debug(0, `Finished with ${errorCount.value} errors.`);
  }
  log.printTotalTime();
  if (retval >= 0 && errorCount.value === 0) return retval;
  return errorCount.value !== 0 ? 1 : 0;
}

