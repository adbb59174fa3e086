/**
 * The basis token of an XPATCH (replies.ts): names the signature a SIG sent,
 * so the daemon can tell that the client's delta was made against its file as
 * it is now. Both sides compute it from the same signature bytes.
 */
import { createHash } from 'node:crypto';

export function signatureDigest(signature: Uint8Array): string {
  return createHash('sha1').update(signature).digest('hex');
}

/** The daemon's reply to an XPATCH whose basis changed after its SIG (the file stays dirty on the client). */
export const ERR_BASIS_CHANGED = 'File changed since its SIG, not patched.';
