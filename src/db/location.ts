/**
 * Which database file a run uses (database.md §1): `-D`, else the config's
 * `database` statement, else /var/lib/csync2; a directory gets
 * `<host>[_<cfg>].db3` appended.
 */
import { statSync } from 'node:fs';
import { FatalError } from '../util/errors.js';
import { toBuf, type BStr } from '../util/bytes.js';

export const DEFAULT_DB_DIR = '/var/lib/csync2';

export interface DbLocation {
  /** The URL as csync2 prints it in `Database-File:` and `Can't open database:`. */
  url: BStr;
  /** The SQLite file to open. */
  path: BStr;
  /** Set when this location cannot be opened; csync2 only finds out when it opens the database. */
  error?: FatalError;
}

/** `value` is the -D argument, or the config's `database` statement, or null. */
export function resolveDatabase(value: BStr | null, hostname: BStr, cfgName: BStr): DbLocation {
  const fileName = `${hostname}${cfgName ? '_' : ''}${cfgName}.db3`;
  if (!value || value.startsWith('/')) {
    const dir = value || DEFAULT_DB_DIR;
    const url = `sqlite3://${dir}/${fileName}`;
    return finish(url, `${dir}/${fileName}`, fileName);
  }
  const m = /^([^:]*):\/\/(.*)$/s.exec(value);
  if (!m) return finish(value, value, fileName);
  const scheme = m[1]!;
  const rest = m[2]!;
  if (scheme === 'sqlite' || scheme === 'sqlite3') return finish(value, rest, fileName);
  if (scheme === 'sqlite2') {
    return { url: value, path: rest, error: new FatalError(`Can't open database: ${value}`,
      'SQLite 2 databases are not supported (neither by Debian\'s csync2); use sqlite3:// instead.') };
  }
  if (scheme === 'mysql' || scheme === 'pgsql') {
    return { url: value, path: rest, error: new FatalError(`Can't open database: ${value}`,
      `the ${scheme} backend is not supported by csync2-ts yet; use SQLite (-D /var/lib/csync2).`) };
  }
  return { url: value, path: rest, error: new FatalError(`Unknown database scheme: ${value}`) };
}

/** An existing directory gets the default file name appended (db_api.c db_open). */
function finish(url: BStr, path: BStr, fileName: BStr): DbLocation {
  try {
    if (statSync(toBuf(path)).isDirectory()) {
      let dir = path;
      while (dir.length > 1 && dir.endsWith('/')) dir = dir.slice(0, -1);
      path = `${dir === '/' ? '' : dir}/${fileName}`;
    }
  } catch { /* not a directory: the path is the database file itself */ }
  return { url, path };
}
