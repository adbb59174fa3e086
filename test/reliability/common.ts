/** Pieces the reliability trials share. */
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Impl, TestHost } from '../helpers/index.js';

/**
 * Clients the push trials run against our daemon: the real csync2 and ours.
 */
export const CLIENT_IMPLS: Impl[] = ['real', 'ours'];

/** Names csync2 and csync2-ts give temp files (`.<basename>.XXXXXX`, ours first tries `.csTemp`). */
const TEMP_NAME = /^\..+\.(csTemp|[A-Za-z0-9]{6})$/;

/** Temp files anywhere below `dir` (relative paths). */
export async function tempFilesIn(dir: string): Promise<string[]> {
  const found: string[] = [];
  const walk = async (rel: string): Promise<void> => {
    const entries = await readdir(join(dir, rel), { withFileTypes: true });
    for (const e of entries) {
      const path = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) await walk(path);
      else if (TEMP_NAME.test(e.name)) found.push(path);
    }
  };
  await walk('');
  return found.sort();
}

/** `PRAGMA integrity_check` says ok. */
export async function integrityOk(host: TestHost, configName?: string): Promise<boolean> {
  const rows = await host.sql('PRAGMA integrity_check', configName);
  return rows.length === 1 && rows[0]![0] === 'ok';
}
