/**
 * HELLO <name> (protocol.md §4.1). csync2 accepts the name when the peer's
 * address is among the addresses the name resolves to, then pins the peer's
 * TLS certificate under that name, and on a plain connection requires a
 * matching `nossl` statement. Beyond csync2, the name must also be a peer in
 * one of this host's active groups, and every refusal is logged (level 0)
 * with its reason: the address that came, the addresses the name resolves
 * to, the groups that were searched.
 */
import { checkPeerCert, CLIENT_NO_CERT, CLIENT_WRONG_CERT } from '../net/pin.js';
import { addressMatches, resolveAddresses, ResolveError } from '../net/resolve.js';
import { fnmatch } from '../config/fnmatch.js';
import { ERR_IDENT_FAILED, ERR_SSL_EXPECTED } from '../protocol/replies.js';
import { log } from '../util/log.js';
import type { BStr } from '../util/bytes.js';
import type { Outcome, Request, Session } from './session.js';

export async function hello(s: Session, r: Request): Promise<Outcome> {
  s.peer = null;
  const name = r.tags[1]!;
  const ip = s.conn.peerIp;
  const refused = (why: string): Outcome => {
    log.debug(0, `Identification failed for '${name}' from ${ip ?? 'an unknown address'}: ${why}.`);
    return { error: ERR_IDENT_FAILED };
  };

  const active = s.ctx.cfg.groups.filter((g) => g.active);
  if (!active.some((g) => g.hosts.some((h) => h.name === name))) {
    const searched = active.map((g) => g.name).join(', ') || 'none';
    return refused(`not a peer in any of this host's active groups (searched: ${searched})`);
  }

  let addresses: string[];
  try {
    addresses = await resolveAddresses(name);
  } catch (err) {
    if (!(err instanceof ResolveError)) throw err;
    log.debug(1, `getaddrinfo: ${err.message}`);
    return refused(`the name does not resolve (${err.message})`);
  }
  if (!addressMatches(ip, addresses)) {
    return refused(`${ip ?? 'the peer address'} is not among the addresses of the name (${addresses.join(', ')})`);
  }

  if (s.conn.usesTls) {
    const pin = checkPeerCert(s.ctx.store, name, s.conn.peerCertHex());
    if (pin === 'missing') {
      log.debug(1, CLIENT_NO_CERT);
      return refused('the peer sent no certificate');
    }
    if (pin === 'mismatch') {
      log.debug(1, CLIENT_WRONG_CERT);
      return refused('its certificate differs from the one pinned for this name in x509_cert');
    }
  } else if (!nosslAllows(s, name)) {
    return { error: ERR_SSL_EXPECTED };
  }
  s.peer = name;
  return null;
}

/** Plain connections need a `nossl FROM TO;` with FROM matching this host and TO the peer. */
function nosslAllows(s: Session, peer: BStr): boolean {
  const me = s.opts.hostname;
  return s.ctx.cfg.nossl.some((n) => fnmatch(n.from, me) && fnmatch(n.to, peer));
}
