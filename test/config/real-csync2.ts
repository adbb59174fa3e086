/**
 * Runs the real csync2 (Debian 2.0) against a config in a temp system dir, and
 * our loadConfig() against the same files, so tests can compare the two.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfigSync } from '../../src/config/load.js';
import * as parser from '../../src/config/parse.js';
import type { Config } from '../../src/config/model.js';
import type { BStr } from '../../src/util/bytes.js';
import { CsyncError } from '../../src/util/errors.js';

export const REAL_CSYNC2 = '/usr/sbin/csync2';
/** A valid key (>= 32 chars of [A-Za-z0-9._]). */
export const KEY = 'abcdefghijklmnopqrstuvwxyz0123456789.ABCDEF_';

export interface Sandbox {
  /** CSYNC2_SYSTEM_DIR, holding csync2.cfg and csync2.key. */
  sys: string;
  /** Working directory for both programs (config includes are relative to it). */
  cwd: string;
  db: string;
  root: string;
  cleanup(): void;
}

export function sandbox(): Sandbox {
  const root = mkdtempSync(join(tmpdir(), 'csync2-cfg-'));
  const sys = join(root, 'sys');
  const cwd = join(root, 'cwd');
  const db = join(root, 'db');
  for (const d of [sys, cwd, db]) mkdirSync(d);
  writeFileSync(join(sys, 'csync2.key'), KEY + '\n');
  return { root, sys, cwd, db, cleanup: () => rmSync(root, { recursive: true, force: true }) };
}

export function writeConfig(sb: Sandbox, text: BStr): void {
  writeFileSync(join(sb.sys, 'csync2.cfg'), Buffer.from(text, 'latin1'));
}

export interface RealResult {
  status: number | null;
  stdout: BStr;
  stderr: BStr;
  /** First line of stderr ('' if none). */
  first: BStr;
}

/** Real csync2 with `-N host -D db <args>` in the sandbox. */
export function runReal(sb: Sandbox, host: string, args: string[]): RealResult {
  const r = spawnSync(REAL_CSYNC2, ['-N', host, '-D', sb.db, ...args], {
    cwd: sb.cwd,
    env: { ...process.env, CSYNC2_SYSTEM_DIR: sb.sys },
    timeout: 20000,
  });
  const stderr = r.stderr.toString('latin1');
  return { status: r.status, stdout: r.stdout.toString('latin1'), stderr, first: stderr.split('\n')[0]! };
}

export interface OursResult {
  cfg: Config | null;
  /** csync2's first error line, or ''. */
  first: BStr;
  detail?: string;
  error?: unknown;
}

/** Our loader on the sandbox's config, run with the sandbox's cwd (includes are relative to it). */
/** Unit tests parse every time (test/config/cache.test.ts tests the cache). */
const NO_CACHE = { CSYNC2_TS_CACHE_DIR: 'off' };

export function loadOurs(sb: Sandbox, host: BStr,
  opts: { groupList?: BStr | null; peerList?: BStr | null; file?: string; cacheEnv?: NodeJS.ProcessEnv } = {}): OursResult {
  const old = process.cwd();
  process.chdir(sb.cwd);
  try {
    const cfg = loadConfigSync({
      file: opts.file ?? join(sb.sys, 'csync2.cfg'),
      systemDir: sb.sys,
      myhostname: host,
      groupList: opts.groupList ?? null,
      peerList: opts.peerList ?? null,
      cacheEnv: opts.cacheEnv ?? NO_CACHE,
    }, parser);
    return { cfg, first: '' };
  } catch (err) {
    if (err instanceof CsyncError) return { cfg: null, first: err.message, detail: err.detail, error: err };
    throw err;
  } finally {
    process.chdir(old);
  }
}
