/**
 * Reading a csync2 database the way an admin would: through the sqlite3 CLI, read-only, so the test
 * sees exactly the stored text (integers as digits, NULL as '') and never changes the file.
 */
import { existsSync } from 'node:fs';
import { SQLITE3 } from './paths.js';
import { ProcessTracker } from './procs.js';

export const CSYNC2_TABLES = ['file', 'dirty', 'hint', 'action', 'x509_cert'] as const;
export type Csync2Table = (typeof CSYNC2_TABLES)[number];

/** Column order of each table (database.md section 2). */
export const CSYNC2_COLUMNS: Record<Csync2Table, readonly string[]> = {
  file: ['filename', 'checktxt'],
  dirty: ['filename', 'forced', 'myname', 'peername'],
  hint: ['filename', 'recursive'],
  action: ['filename', 'command', 'logfile'],
  x509_cert: ['peername', 'certdata'],
};

// sqlite3 -ascii: 0x1F between columns, 0x1E after each row.
const COL = '\x1f';
const ROW = '\x1e';

const tracker = new ProcessTracker();

/** Rows of `query` in result order; values are byte strings (latin1). */
export async function sqliteQuery(dbPath: string, query: string): Promise<string[][]> {
  if (!existsSync(dbPath)) throw new Error(`no database file ${dbPath}`);
  const run = (mode: string[]) => tracker.run([SQLITE3, ...mode, '-batch', '-ascii', '-cmd', '.timeout 5000', dbPath, query],
    { timeoutMs: 15_000 });
  let result = await run(['-readonly']);
  // A process killed in a transaction (the real csync2 keeps a rollback journal) leaves a hot
  // journal that only a writer may roll back, as the next csync2 run does.
  if (result.code !== 0 && /attempt to write a readonly database/.test(result.stderr.toString('latin1'))) result = await run([]);
  if (result.code !== 0) {
    throw new Error(`sqlite3 ${dbPath} "${query}" failed (${result.code}): ${result.stderr.toString('latin1')}`);
  }
  const text = result.stdout.toString('latin1');
  if (text === '') return [];
  return text.split(ROW).filter((row, i, all) => !(i === all.length - 1 && row === '')).map((row) => row.split(COL));
}

/** All rows of one csync2 table, sorted (byte order of the columns) so dumps compare across hosts. */
export async function dumpTable(dbPath: string, table: Csync2Table): Promise<string[][]> {
  if (!CSYNC2_TABLES.includes(table)) throw new Error(`not a csync2 table: ${table}`);
  // hex() of every column: any stored byte survives the CLI (an integer 0 comes back as the text '0').
  const columns = CSYNC2_COLUMNS[table].map((c) => `hex(${c})`).join(', ');
  const rows = await sqliteQuery(dbPath, `SELECT ${columns} FROM ${table}`);
  return rows.map((row) => row.map((hex) => Buffer.from(hex, 'hex').toString('latin1'))).sort(compareRows);
}

function compareRows(a: string[], b: string[]): number {
  for (let i = 0; i < Math.min(a.length, b.length); i++) {
    if (a[i] !== b[i]) return a[i]! < b[i]! ? -1 : 1;
  }
  return a.length - b.length;
}
