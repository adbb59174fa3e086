/**
 * A one-host test environment for the local modes: one system dir (config +
 * key), one data tree, and a separate database directory per implementation,
 * so the real csync2 and ours can run the same command on the same tree and
 * their outputs and tables can be compared.
 */
import { spawnSync, type SpawnSyncOptions } from 'node:child_process';
import { mkdtempSync, mkdirSync, writeFileSync, rmSync, realpathSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
export const OURS = join(REPO, 'bin', 'csync2');
export const REAL = '/usr/sbin/csync2';
export type Impl = 'real' | 'ours';
export const KEY = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._';

export interface Result {
  code: number | null;
  stdout: string;
  stderr: string;
  /** First stderr line (what csync2-ts promises to match byte for byte). */
  err1: string;
}

export class LocalEnv {
  readonly root: string;
  readonly sys: string;
  readonly data: string;
  host = 'thishost';

  constructor(prefix = 'cs2-local-') {
    this.root = realpathSync(mkdtempSync(join(tmpdir(), prefix)));
    this.sys = join(this.root, 'etc');
    this.data = join(this.root, 'data');
    mkdirSync(this.sys);
    mkdirSync(this.data);
    mkdirSync(join(this.root, 'db-real'));
    mkdirSync(join(this.root, 'db-ours'));
    writeFileSync(join(this.sys, 'csync2.key'), KEY + '\n');
  }

  /** Writes csync2.cfg; `%DATA%` in the text is replaced by the data directory. */
  config(text: string, name = 'csync2.cfg'): void {
    writeFileSync(join(this.sys, name), text.replaceAll('%DATA%', this.data));
  }

  dbDir(impl: Impl): string {
    return join(this.root, `db-${impl}`);
  }

  run(impl: Impl, args: string[], opts: { cwd?: string; env?: Record<string, string>; noDefaults?: boolean;
    stdio?: SpawnSyncOptions['stdio'] } = {}): Result {
    const bin = impl === 'real' ? REAL : OURS;
    const full = opts.noDefaults ? args : ['-N', this.host, '-D', this.dbDir(impl), ...args];
    const r = spawnSync(bin, full, {
      cwd: opts.cwd ?? this.root,
      env: { ...process.env, CSYNC2_SYSTEM_DIR: this.sys, ...opts.env },
      encoding: 'latin1',
      timeout: 60_000,
      stdio: opts.stdio,
    });
    const stderr = r.stderr ?? '';
    return { code: r.status, stdout: r.stdout ?? '', stderr, err1: stderr.split('\n')[0] ?? '' };
  }

  /**
   * A run's stderr lines as compared at -vv: without SQL's lines (ours differ by design: batched
   * reads), with this side's database directory as `DB` and the real program's path as `csync2`.
   */
  debugLines(r: Result, impl: Impl): string[] {
    return r.stderr.split('\n')
      .filter((l) => !/^(SQL|Opening shared library|Reading symbols)/.test(l))
      .map((l) => l.replaceAll(this.dbDir(impl), 'DB').replaceAll(REAL, 'csync2'));
  }

  /** Both implementations, same arguments; returns [real, ours]. */
  both(args: string[], opts: Parameters<LocalEnv['run']>[2] = {}): [Result, Result] {
    return [this.run('real', args, opts), this.run('ours', args, opts)];
  }

  /** All rows of a table as sorted TAB-joined lines (raw stored text, typeof included for the flag columns). */
  dump(impl: Impl, table: 'file' | 'dirty' | 'hint' | 'action' | 'x509_cert'): string[] {
    const db = join(this.dbDir(impl), `${this.host}.db3`);
    const cols: Record<string, string> = {
      file: "filename, checktxt",
      dirty: "filename, forced, typeof(forced), myname, peername",
      hint: "filename, recursive, typeof(recursive)",
      action: "filename, command, logfile",
      x509_cert: "peername, certdata",
    };
    const r = spawnSync('sqlite3', ['-separator', '\t', db, `SELECT ${cols[table]} FROM ${table}`], { encoding: 'latin1' });
    if (r.status !== 0) throw new Error(`sqlite3 failed: ${r.stderr}`);
    return r.stdout.split('\n').filter((l) => l !== '').sort();
  }

  cleanup(): void {
    rmSync(this.root, { recursive: true, force: true });
  }
}
