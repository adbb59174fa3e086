/**
 * The daemon's command table (daemon.c cmdtab): which checks run before a
 * command, and what it does. Names are matched case-insensitively.
 *
 * Flags: perm 1 = permission check, 2 = in compare mode (TYPE); dirty = run
 * the local check first and refuse if the file is dirty here (FLUSH only
 * checks); unlink 1 = remove whatever is at the path first, 2 = only if it is
 * not a regular file; update 1 = bookkeeping + `Updated ...` + remote actions,
 * 2 = bookkeeping only; ident = needs a successful HELLO.
 * `touches` (beyond csync2) = the command reads or changes the file itself,
 * so it is refused when the path leads through a symlinked directory.
 */
import type { BStr } from '../util/bytes.js';
import type { Session, Request, Outcome } from './session.js';
import * as files from './filecmds.js';
import { hello } from './identify.js';
import { list } from './list.js';

export interface CommandSpec {
  /**
   * A frame follows the command line at once (XPATCH): its header is read before any check,
   * its payload drained when refused. 'chunked' (XPATCHS): a run of frames (FRAME_CHUNKED).
   */
  framed?: boolean | 'chunked';
  /** Known only when the session agreed on csync2-ts's extensions of this version or later (Connection.extensionVersion). */
  extension?: number;
  perm: 0 | 1 | 2;
  dirty: boolean;
  unlink: 0 | 1 | 2;
  update: 0 | 1 | 2;
  ident: boolean;
  touches: boolean;
  /** Makes an entry where there is none (extensions v4: refused with `Parent dir missing.` when its parent is missing). */
  creates?: boolean;
  /**
   * Stands for several commands (XPATCHA): they run in turn, each with its own checks and reply,
   * the later ones only when the first one's reply is OK. `run` is not used.
   */
  expand?: (r: Request) => Request[];
  run: (s: Session, r: Request) => Promise<Outcome> | Outcome;
}

function cmd(perm: 0 | 1 | 2, dirty: boolean, unlink: 0 | 1 | 2, update: 0 | 1 | 2, ident: boolean,
  touches: boolean, run: CommandSpec['run']): CommandSpec {
  return { perm, dirty, unlink, update, ident, touches, run };
}

function creating(spec: CommandSpec): CommandSpec {
  return { ...spec, creates: true };
}

/** XPATCHA K F UID GID MODE MTIME [TOKEN]: XPATCH K F [TOKEN], SETOWN K F UID GID, SETMOD K F MODE, SETIME K F MTIME. */
function xpatchWithAttributes(r: Request): Request[] {
  const xpatch = partOf(r, 'xpatch', [7]);
  xpatch.frame = r.frame;
  return [xpatch, partOf(r, 'setown', [3, 4]), partOf(r, 'setmod', [5]), partOf(r, 'setime', [6])];
}

/** One of the commands a line stands for: its key and file, then the line's tokens at `args`. */
function partOf(r: Request, cmd: BStr, args: number[]): Request {
  const tags = new Array<BStr>(r.tags.length).fill('');
  const raw = [cmd.toUpperCase(), r.raw[1] ?? '', r.raw[2] ?? ''];
  tags[0] = raw[0]!;
  tags[1] = r.tags[1]!;
  tags[2] = r.tags[2]!;
  args.forEach((i, j) => {
    tags[3 + j] = r.tags[i] ?? '';
    if (i < r.raw.length) raw.push(r.raw[i]!);
  });
  return { cmd, tags, raw, name: r.name, real: '' };
}

function unused(): Outcome {
  throw new Error('a command that stands for others has no run of its own');
}

export const COMMANDS: ReadonlyMap<BStr, CommandSpec> = new Map<BStr, CommandSpec>([
  ['sig', cmd(1, false, 0, 0, true, false, files.sig)],
  // Version 3: SIG with the signature's size in place of its bytes (replies.ts SIGT_COMMAND).
  ['sigt', { ...cmd(1, false, 0, 0, true, false, files.sigSizeOnly), extension: 3 }],
  ['mark', cmd(1, false, 0, 0, true, false, files.mark)],
  ['type', cmd(2, false, 0, 0, true, true, files.type)],
  ['gettm', cmd(1, false, 0, 0, true, false, files.getTime)],
  ['getsz', cmd(1, false, 0, 0, true, false, files.getSize)],
  ['flush', cmd(1, true, 0, 0, true, false, files.flush)],
  ['del', cmd(1, true, 0, 1, true, true, files.del)],
  ['patch', cmd(1, true, 2, 1, true, true, files.patch)],
  // Beyond csync2 (replies.ts): PATCH without the round trip, for our own client; a
  // session that did not agree on the extensions does not know it (`Unknown command!`).
  ['xpatch', creating({ ...cmd(1, true, 2, 1, true, true, files.xpatch), framed: true, extension: 1 })],
  // Version 2: the same with the delta streamed in chunks (sent while it is made, applied while it arrives).
  ['xpatchs', creating({ ...cmd(1, true, 2, 1, true, true, files.xpatch), framed: 'chunked', extension: 2 })],
  // Version 5: XPATCH and the file's SETOWN, SETMOD and SETIME on one line (replies.ts XPATCHA_COMMAND).
  ['xpatcha', { ...cmd(0, false, 0, 0, true, false, unused), framed: true, extension: 5, expand: xpatchWithAttributes }],
  ['mkdir', creating(cmd(1, true, 1, 1, true, true, files.mkdir))],
  ['mkchr', creating(cmd(1, true, 1, 1, true, true, files.mkchr))],
  ['mkblk', creating(cmd(1, true, 1, 1, true, true, files.mkblk))],
  ['mkfifo', creating(cmd(1, true, 1, 1, true, true, files.mkfifo))],
  ['mklink', creating(cmd(1, true, 1, 1, true, true, files.mklink))],
  ['mksock', creating(cmd(1, true, 1, 1, true, true, files.mksock))],
  ['setown', cmd(1, true, 0, 2, true, true, files.setown)],
  ['setmod', cmd(1, true, 0, 2, true, true, files.setmod)],
  ['setime', cmd(1, false, 0, 2, true, true, files.setime)],
  ['list', cmd(0, false, 0, 0, true, false, list)],
  ['group', cmd(0, false, 0, 0, false, false, (s, r) => s.group(r.tags[1]!))],
  ['hello', cmd(0, false, 0, 0, false, false, hello)],
  ['bye', cmd(0, false, 0, 0, false, false, () => ({ reply: 'OK (cu_later).', end: true, noUpdate: true }))],
]);
