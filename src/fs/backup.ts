/**
 * Backups before PATCH and DEL on the receiving host (config.md §4.6), as
 * csync2's csync_file_backup() makes them: for every group containing the
 * file that has a `backup-directory` and `backup-generations` > 1, the current
 * content is copied to `<backup-directory><real path>`. The directories on the
 * way are created 0700 and then given the owner and mode of the original
 * directories; the backup file gets the original file's owner and mode.
 *
 * Generations are rotated the way csync2 really does it (VERIFIED): for
 * i = N-1 down to 1 it renames `<base>` to `<base>.<i>`, so only the first
 * rename finds a file; after several updates `<base>` holds the previous
 * content and `<base>.<N-1>` the one before that.
 *
 * Differences from csync2, all on failure paths: a backup directory that
 * cannot be created, or a copy that fails half-way, is an error the caller
 * reports (csync2 replies OK without doing anything, or carries on); and a
 * symlink is not followed (csync2 would back up whatever it points to).
 */
import { chmod, chown, lstat, mkdir, open, rename, stat } from 'node:fs/promises';
import { constants as C } from 'node:fs';
import { log } from '../util/log.js';
import { strerror } from '../util/errors.js';
import { fsPath, type BStr } from '../util/bytes.js';
import type { Group } from '../config/model.js';

/** What the caller replies when a backup fails (csync2's text, without its stray extra newline). */
export type BackupFailure = { error: BStr };

const COPY_CHUNK = 1 << 20;

/**
 * Back up `real` (the file's real path) for each of `groups` (the active
 * groups containing the file, in run-time order). Resolves null when done or
 * nothing was to be done, or the failure text.
 */
export async function backupFile(real: BStr, groups: readonly Group[]): Promise<BackupFailure | null> {
  for (const g of groups) {
    const dir = g.backupDirectory;
    if (dir === null || g.backupGenerations <= 1) continue;
    log.debug(1, `backup ${real} for group ${g.name}`);

    const dirSt = await stat(fsPath(dir)).catch(() => null);
    if (dirSt === null) {
      log.debug(3, 'backup directory configured is not present, so creating it');
      // csync2's mkpath() makes only the directories above it; the backup directory itself
      // appears with the first file that is really backed up (makeBackupDirs).
      try {
        const parent = parentDir(dir);
        if (parent !== null) await mkdir(fsPath(parent), { recursive: true, mode: 0o700 });
      } catch (err) {
        log.debug(1, `ERROR : unable to create backup directory ${dir} ; backup failed `);
        return { error: `Open error while backing up '${real}': ${strerror(err)}` };
      }
    } else if (!dirSt.isDirectory()) {
      log.debug(1, `ERROR : location configured for backup ${dir} is not a directory; backup failed `);
      return { error: `Open error while backing up '${real}': Not a directory` };
    }

    // Directories (and, here, anything that is not a regular file) are not backed up.
    const st = await lstat(fsPath(real)).catch(() => null);
    if (st === null || !st.isFile()) {
      log.debug(1, 'directory. Skip generation ');
      return null;
    }
    let input;
    try {
      input = await open(fsPath(real), C.O_RDONLY | C.O_NOFOLLOW);
    } catch {
      return null; // csync2: an unreadable file is silently not backed up
    }
    try {
      await makeBackupDirs(dir, real);
      const base = dir + real;
      for (let i = g.backupGenerations - 1; i >= 1; i--) {
        const to = `${base}.${i}`;
        const rc = await rename(fsPath(base), fsPath(to)).then(() => 0, () => -1);
        log.debug(1, `renaming backup files '${base}' to '${to}'. rc = ${rc}`);
      }
      let output;
      try {
        output = await open(fsPath(base), C.O_WRONLY | C.O_CREAT, 0o600);
      } catch (err) {
        return { error: `Open error while backing up '${real}': ${strerror(err)}` };
      }
      log.debug(1, `Copying data from ${real} to backup file ${base} `);
      try {
        const buf = Buffer.allocUnsafe(Math.min(COPY_CHUNK, Math.max(st.size, 1)));
        for (;;) {
          const { bytesRead } = await input.read(buf, 0, buf.length, null);
          if (bytesRead === 0) break;
          let off = 0;
          while (off < bytesRead) off += (await output.write(buf, off, bytesRead - off)).bytesWritten;
        }
      } catch (err) {
        log.debug(1, 'csync_backup error 2');
        return { error: `Write error while backing up '${real}': ${strerror(err)}` };
      } finally {
        await output.close();
      }
      await copyOwnerAndMode(base, real);
    } finally {
      await input.close();
    }
  }
  return null;
}

/** The directory above `dir` (trailing slashes ignored), or null for a top-level one. */
function parentDir(dir: BStr): BStr | null {
  const trimmed = dir.replace(/\/+$/, '');
  const slash = trimmed.lastIndexOf('/');
  return slash > 0 ? trimmed.slice(0, slash) : null;
}

/** `<dir><each leading directory of real>`: mkdir 0700, then the original directory's owner and mode. */
async function makeBackupDirs(dir: BStr, real: BStr): Promise<void> {
  const lastSlash = real.lastIndexOf('/');
  for (let i = 0; i <= lastSlash; i++) {
    if (real.charCodeAt(i) !== 0x2f) continue;
    const path = dir + real.slice(0, i);
    log.debug(1, `mkdir ${path} `);
    await mkdir(fsPath(path), 0o700).catch(() => undefined);
    if (i !== 0) await copyOwnerAndMode(path, real.slice(0, i));
  }
}

/** csync_setBackupFileStatus(): owner and mode of `original` onto `backup`. */
async function copyOwnerAndMode(backup: BStr, original: BStr): Promise<void> {
  const st = await stat(fsPath(original)).catch(() => null);
  if (st === null) {
    log.debug(0, `Error getting mode and owner ship from ${original} `);
    return;
  }
  log.debug(1, `Stating original file ${original} rc: 0 mode: ${st.mode.toString(8)} `);
  const rcOwn = await chown(fsPath(backup), st.uid, st.gid).then(() => 0, () => -1);
  log.debug(rcOwn === 0 ? 1 : 0, `Changing owner of ${backup} to user ${st.uid | 0} and group ${st.gid | 0}, rc= ${rcOwn} `);
  const rcMod = await chmod(fsPath(backup), st.mode & 0o7777).then(() => 0, () => -1);
  log.debug(rcMod === 0 ? 1 : 0, `Changing mode of ${backup} to mode ${st.mode.toString(8)}, rc= ${rcMod} `);
}
