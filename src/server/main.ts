/**
 * Entry of the daemon modes, called by the CLI after option parsing and
 * logger set-up. Returns the process exit code.
 *
 * - `-ii`: listen (or take systemd's listening socket on fd 3) and serve every
 *   connection concurrently in this process, each as its own Session;
 * - `-iii`: serve one connection, then exit;
 * - `-i`: one session on stdin/stdout (inetd, xinetd, systemd Accept=yes).
 *   Logging goes to syslog (the CLI sets that up), and so do -vvv wire dumps:
 *   stdout and maybe stderr are the connection.
 *
 * A session that fails (bad config, a fatal protocol error) logs why and
 * ends; in `-ii` the daemon keeps serving, in `-i`/`-iii` the exit code is 1.
 */
import type { Options } from '../cli/options.js';
import type { Connection } from '../net/connection.js';
import { serveInetd, serveOne, serveStandalone, type ServeOptions } from '../net/listen.js';
import { formatWireDump, stderrWireTap, type WireTap } from '../protocol/wiredump.js';
import { CsyncError } from '../util/errors.js';
import { log } from '../util/log.js';
import { Session } from './session.js';
import { commitAllStores } from './stores.js';
import { enableDirStatCache } from '../fs/dirstat.js';
import { removeLiveTemps } from '../fs/tempfile.js';

export async function runServer(opts: Options): Promise<number> {
  let exitCode = 0;
  enableDirStatCache(true);
  const handler = async (conn: Connection): Promise<void> => {
    const session = new Session(conn, { opts, id: conn.id });
    try {
      await session.run();
    } catch (err) {
      exitCode = 1;
      reportSessionError(err);
    }
  };

  if (opts.mode === 'inetd') {
    await serveInetd(handler, { tap: inetdTap() });
  } else {
    const serveOpts: ServeOptions = {
      port: opts.port,
      bindName: opts.bindToHostname ? opts.hostname : null,
      myHostname: opts.hostname,
      sessionsOnlyLog: true,
    };
    const stop = commitOnSignals();
    try {
      if (opts.mode === 'single') await serveOne(serveOpts, handler);
      else await serveStandalone(serveOpts, handler);
    } finally {
      stop();
    }
  }
  await log.close();
  return exitCode;
}

/** csync_fatal() in a session: the message (and our detail) at level 0, then the -t time stamp. */
function reportSessionError(err: unknown): void {
  if (err instanceof CsyncError) {
    log.debug(0, err.message);
    if (err.detail) log.debug(0, err.detail);
  } else {
    log.debug(0, `Internal error in session: ${err instanceof Error ? err.stack ?? err.message : String(err)}`);
  }
  log.resetPrintTime();
  log.printTime();
}

/** Wire dumps in -i mode go where the log goes (syslog), never to stdout/stderr. */
function inetdTap(): WireTap | null {
  if (!log.enabled(3)) return null;
  const sink = log.syslog;
  if (!sink) return stderrWireTap();
  return (dir, bytes) => sink.write(3, formatWireDump(dir, bytes) + '\n');
}

/**
 * SIGTERM / SIGINT: commit what the open stores hold, remove the temp files
 * being written, then die of the signal as before. Returns the function that
 * removes the handlers.
 */
function commitOnSignals(): () => void {
  const onSignal = (sig: NodeJS.Signals): void => {
    commitAllStores();
    removeLiveTemps();
    process.off('SIGTERM', onSignal);
    process.off('SIGINT', onSignal);
    process.kill(process.pid, sig);
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  return () => {
    process.off('SIGTERM', onSignal);
    process.off('SIGINT', onSignal);
  };
}
