/**
 * TCP keepalive on every connection between hosts (beyond csync2, which sets none). Each side
 * spends most of a session waiting for the other's next line; without keepalive a peer that
 * vanished meanwhile (powered off, cut off by the network) is never noticed: a cron
 * `csync2 -x` would wait for it for ever, and a daemon would keep the session. With it the
 * kernel starts probing after a minute of silence and ends the connection when the probes go
 * unanswered (how often and how many: net.ipv4.tcp_keepalive_intvl and _probes). A live but
 * slow peer answers the probes, so keepalive never cuts it short (a peer that is there but stuck
 * is peer-timeout.ts's part).
 */
import type { Socket } from 'node:net';

/** Silence before the first probe. */
export const KEEPALIVE_IDLE_MS = 60_000;

/** Turn keepalive on (a no-op on sockets that are not TCP, such as a socketpair from inetd). */
export function keepPeerAlive(sock: Socket): void {
  sock.setKeepAlive(true, KEEPALIVE_IDLE_MS);
}
