/**
 * Certificate pinning in table x509_cert (protocol.md §3.3), shared by the
 * client (after the handshake, under the peer name it connected to) and the
 * daemon (during HELLO, under the HELLO name): trust on first use, then the
 * stored DER hex must match exactly. Rows are never updated by csync2.
 */
import { log, type DebugSink } from '../util/log.js';
import type { BStr } from '../util/bytes.js';
import type { StateStore } from '../db/store.js';

export type PinResult = 'added' | 'match' | 'mismatch' | 'missing';

/**
 * `certHex` = the peer's leaf certificate DER as upper-case hex, or null when it sent none;
 * `out` = where the messages go (a client serving several peers keeps each peer's in order).
 */
export function checkPeerCert(store: StateStore, peername: BStr, certHex: BStr | null,
  out: DebugSink = log): PinResult {
  if (certHex === null) return 'missing';
  const pinned = store.getCert(peername);
  if (pinned === null) {
    out.debug(1, `Adding peer x509 certificate to db: ${certHex}`);
    store.addCert(peername, certHex);
    return 'added';
  }
  out.debug(2, `Peer x509 certificate is: ${certHex}`);
  return pinned === certHex ? 'match' : 'mismatch';
}

/** The client's fatal texts (sic: csync2 spells it "cetrificate"). */
export const CLIENT_WRONG_CERT = 'Peer did provide a wrong SSL X509 cetrificate.';
export const CLIENT_NO_CERT = 'Peer did not provide an SSL X509 cetrificate.';
