/**
 * The names our temp files have (tempfile.ts makes them), apart from making them: the check
 * skips them, and it should not load what making them needs (crypto, fs/promises).
 */
import type { BStr } from '../util/bytes.js';

/** A directory entry named like one of our temp files (`.<name>.csTemp` or `.<name>.cs` + 4 characters). */
export function isOurTempName(name: BStr): boolean {
  return name.charCodeAt(0) === 0x2e && /\.cs[A-Za-z0-9]{4}$/.test(name);
}
