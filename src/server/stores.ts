/**
 * One StateStore per database file for all sessions of this process.
 *
 * better-sqlite3 waits for locks synchronously, so two connections to one file
 * in one event loop could wait on each other forever; sharing one connection
 * avoids that. Its batch transaction commits when idle or old, and at the end
 * of each session. The store is closed when its last session ends.
 *
 * Actions: csync2 runs, at the end of each process, every action row in the
 * table. Sessions here share one process and one table, so each session
 * claims the rows it schedules and, when it ends, runs everything that no
 * other live session has claimed (its own rows and any left over from a
 * process that died); the others run theirs when they end.
 */
import { runActions } from '../actions/run.js';
import { StateStore, type StateStoreOptions } from '../db/store.js';
import type { DbLocation } from '../db/location.js';
import { urlEncode } from '../protocol/urlencode.js';
import type { BStr } from '../util/bytes.js';

interface Entry {
  store: StateStore;
  refs: number;
  /** Encoded "filename\tcommand\tlogfile" -> the sessions that scheduled it. */
  claims: Map<string, Set<number>>;
  /** Action runs of this store, one after another. */
  actionRun: Promise<void>;
}

const entries = new Map<string, Entry>();

function claimKey(fileEnc: BStr, commandEnc: BStr, logfileEnc: BStr): string {
  return `${fileEnc}\t${commandEnc}\t${logfileEnc}`;
}

/** A session's handle on the shared store of its database file. */
export class StoreLease {
  private released = false;

  private constructor(private readonly path: string, private readonly entry: Entry, readonly sessionId: number) {}

  /** Open (or join) the store of `loc`; StateStore.open's errors propagate. */
  static acquire(loc: DbLocation, opts: StateStoreOptions, sessionId: number): StoreLease {
    let entry = entries.get(loc.path);
    if (!entry) {
      entry = { store: StateStore.open(loc, opts), refs: 0, claims: new Map(), actionRun: Promise.resolve() };
      entries.set(loc.path, entry);
    }
    entry.refs++;
    return new StoreLease(loc.path, entry, sessionId);
  }

  /**
   * The store as this session uses it: the shared one, except that scheduled
   * actions are remembered as this session's claims.
   */
  get store(): StateStore {
    const { entry, sessionId } = this;
    const shared = entry.store;
    return new Proxy(shared, {
      get(target, prop) {
        if (prop === 'addAction') {
          return (name: BStr, command: BStr, logfile: BStr): void => {
            target.addAction(name, command, logfile);
            const key = claimKey(urlEncode(name), urlEncode(command), urlEncode(logfile));
            let owners = entry.claims.get(key);
            if (!owners) entry.claims.set(key, owners = new Set());
            owners.add(sessionId);
          };
        }
        const value = Reflect.get(target, prop, target) as unknown;
        return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
      },
    });
  }

  /**
   * Run the actions that are not claimed by another live session (this
   * session's own claims are dropped first). One run per store at a time.
   */
  runActions(): Promise<void> {
    const { entry, sessionId } = this;
    for (const [key, owners] of entry.claims) {
      owners.delete(sessionId);
      if (owners.size === 0) entry.claims.delete(key);
    }
    const shared = entry.store;
    const claimed = (cmd: BStr, log: BStr, file: BStr): boolean => entry.claims.has(claimKey(file, cmd, log));
    const view = new Proxy(shared, {
      get(target, prop) {
        if (prop === 'actionFiles') {
          return (cmd: BStr, log: BStr): BStr[] => target.actionFiles(cmd, log).filter((f) => !claimed(cmd, log, f));
        }
        if (prop === 'actionCommands') {
          return (): { command: BStr; logfile: BStr }[] => target.actionCommands()
            .filter(({ command, logfile }) => target.actionFiles(command, logfile).some((f) => !claimed(command, logfile, f)));
        }
        const value = Reflect.get(target, prop, target) as unknown;
        return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
      },
    });
    const run = entry.actionRun.then(() => runActions(view));
    entry.actionRun = run.catch(() => undefined);
    return run;
  }

  /** Commit what is pending (the end of a session makes its changes visible to other processes). */
  commit(): void {
    this.entry.store.commit();
  }

  /** Leave the store; the last session closes it. */
  release(): void {
    if (this.released) return;
    this.released = true;
    for (const [key, owners] of this.entry.claims) {
      owners.delete(this.sessionId);
      if (owners.size === 0) this.entry.claims.delete(key);
    }
    this.entry.refs--;
    if (this.entry.refs === 0) {
      entries.delete(this.path);
      this.entry.store.close();
    } else {
      this.entry.store.commit();
    }
  }
}

/** Commit every open store (before the process is stopped). */
export function commitAllStores(): void {
  for (const e of entries.values()) {
    try {
      e.store.commit();
    } catch {
      // the process is going down; nothing better to do
    }
  }
}
