/**
 * Running scheduled actions at the end of a run (action.c csync_run_commands):
 * each distinct (command, logfile) once (last in SELECT order first), `%%` replaced by the triggering names
 * as stored (still url-encoded), through /bin/sh with stdin /dev/null and
 * stdout+stderr appended to the logfile; then its rows are deleted.
 */
import { openSync, closeSync, writeFileSync, unlinkSync, constants as C } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { urlDecode } from '../protocol/urlencode.js';
import { log } from '../util/log.js';
import { FatalError } from '../util/errors.js';
import { toBuf, type BStr } from '../util/bytes.js';
import type { StateStore } from '../db/store.js';
import { importOutside } from '../util/import-outside.js';

export async function runActions(store: StateStore): Promise<void> {
  // csync2 collects the (command, logfile) pairs by prepending too: they run in reverse SELECT order.
  for (const { command, logfile } of store.actionCommands().reverse()) {
    const files = store.actionFiles(command, logfile);
    // csync2 collects the names by prepending: the list is in reverse SELECT order.
    const names = [...files].reverse();
    const clear = urlDecode(command);
    const mark = clear.indexOf('%%');
    const real = mark < 0 ? clear : clear.slice(0, mark) + names.join(' ') + clear.slice(mark + 2);
    log.debug(1, `Running '${real}' ...`);
    await runShell(real, urlDecode(logfile));
    for (const f of files) store.deleteAction(command, logfile, f);
  }
}

/** `/bin/sh -c CMD` with stdin /dev/null and output appended to `logfile`; waits for it. */
async function runShell(cmd: BStr, logfile: BStr): Promise<void> {
  const devNull = openSync('/dev/null', C.O_RDONLY);
  let logFd: number | 'ignore' = 'ignore';
  try {
    logFd = openSync(toBuf(logfile), C.O_WRONLY | C.O_CREAT | C.O_APPEND, 0o666);
  } catch {
    // csync2 runs the command anyway, with its output going nowhere.
  }
  // argv is passed as UTF-8 text; a command with bytes that are not valid UTF-8
  // goes through a script file instead so every byte reaches the shell.
  const asText = toBuf(cmd).toString('utf8');
  let script: string | null = null;
  let args: string[];
  if (Buffer.from(asText, 'utf8').equals(toBuf(cmd))) {
    args = ['-c', asText];
  } else {
    script = join(tmpdir(), `csync2-action-${process.pid}-${Date.now()}.sh`);
    writeFileSync(script, toBuf(cmd), { mode: 0o600 });
    args = [script];
  }
  try {
    // Loaded here: child_process (and net with it) costs a run without actions ~8 ms to load.
    const { spawn } = await importOutside<typeof import('node:child_process')>('node:child_process');
    await new Promise<void>((resolve, reject) => {
      const child = spawn('/bin/sh', args, { stdio: [devNull, logFd, logFd] });
      child.on('error', (err) => reject(new FatalError(`ERROR: Waitpid returned error ${err.message}.`)));
      child.on('close', () => resolve());
    });
  } finally {
    closeSync(devNull);
    if (typeof logFd === 'number') closeSync(logFd);
    if (script) try { unlinkSync(script); } catch { /* gone */ }
  }
}
