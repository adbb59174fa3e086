/**
 * File-argument normalisation as csync2's getrealfn(): absolute against the
 * CWD, trailing slashes dropped, `//`, `/./` and `/../` collapsed textually,
 * symlinks in the DIRECTORY part resolved (the last component is not), and a
 * trailing `/.` removed.
 */
import { statSync, realpathSync } from 'node:fs';
import { toBuf, fromBuf, fromUtf8, type BStr } from '../util/bytes.js';

export function realName(arg: BStr, cwd: BStr = currentDir()): BStr {
  let p = arg.startsWith('/') ? arg : `${cwd}/${arg}`;

  // Drop trailing slashes (but keep a lone '/').
  let end = p.length;
  while (end > 1 && p.charCodeAt(end - 1) === 0x2f) end--;
  p = p.slice(0, end);

  p = collapse(p);
  if (p === '/') return p;

  // Find the longest existing directory prefix, never looking at the last component.
  let cut = p.length;
  let found: BStr | null = null;
  for (;;) {
    cut = p.lastIndexOf('/', cut - 1);
    if (cut <= 0) break;
    const dir = p.slice(0, cut);
    if (isDir(dir)) {
      found = dir;
      break;
    }
  }
  if (found !== null) {
    const resolved = resolveDir(found);
    // getcwd() + "/" + rest, even when getcwd() is "/" (csync2 then yields "//rest").
    if (resolved !== null) p = resolved + p.slice(cut);
  }

  if (p.length >= 2 && p.endsWith('/.')) p = p.length === 2 ? '/' : p.slice(0, -2);
  return p;
}

/** The textual clean-up loop of getrealfn(), including its quirks. */
function collapse(src: BStr): BStr {
  const out: string[] = [];
  let i = 0;
  while (i < src.length) {
    const ch = src[i]!;
    if (ch === '/') {
      if (src[i + 1] === '/') { i++; continue; }
      if (src.startsWith('/../', i) || src.slice(i) === '/..') {
        // Back up to (and drop) the previous '/', or to the start.
        while (out.length > 0) {
          const c = out.pop()!;
          if (c === '/') break;
        }
        i += 3;
        continue;
      }
      if (src.startsWith('/./', i)) {
        // Like the C loop: jump to the second '/' and copy it unexamined.
        i += 2;
      }
    }
    out.push(ch);
    i++;
  }
  return out.join('');
}

function isDir(p: BStr): boolean {
  try {
    return statSync(toBuf(p)).isDirectory();
  } catch {
    return false;
  }
}

/** chdir + getcwd: the directory with every symlink resolved. */
function resolveDir(p: BStr): BStr | null {
  try {
    return fromBuf(realpathSync.native(toBuf(p), { encoding: 'buffer' }));
  } catch {
    return null;
  }
}

function currentDir(): BStr {
  // $PWD may name the cwd through a symlink; getcwd() never does.
  return fromUtf8(process.cwd());
}
