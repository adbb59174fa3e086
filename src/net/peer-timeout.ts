/**
 * How long the client waits for a peer that has gone silent (beyond csync2, which waits for
 * ever). Keepalive (keepalive.ts) finds a peer that is gone; this finds one that is there but
 * stuck (a daemon hanging on its disk, a stopped process): no byte in either direction for
 * this long and the connection is dropped, so that peer's files stay dirty and the client goes on
 * to its other peers instead of holding every later run of cron's `flock` for ever.
 *
 * CSYNC2_TS_PEER_TIMEOUT=seconds (0 = wait for ever, as csync2). The default is far above any
 * silence of a working peer: a daemon flushing or patching a very large file, or a csync2 client
 * making its delta, stays silent for minutes at most.
 */
import type { Duplex } from 'node:stream';

export const PEER_TIMEOUT_ENV = 'CSYNC2_TS_PEER_TIMEOUT';
export const DEFAULT_PEER_TIMEOUT_S = 1800;
/** Node's timers take at most this (a longer one would fire at once); ~24.8 days is for ever here. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** The timeout in milliseconds (0: none); a value that is not a number of seconds >= 0 is ignored. */
export function peerTimeoutMs(env: NodeJS.ProcessEnv = process.env): number {
  const raw = env[PEER_TIMEOUT_ENV];
  const s = raw === undefined || raw.trim() === '' ? NaN : Number(raw);
  const ms = (Number.isFinite(s) && s >= 0 ? s : DEFAULT_PEER_TIMEOUT_S) * 1000;
  return ms > MAX_TIMER_MS ? 0 : Math.round(ms);
}

/**
 * Drop `stream` after `ms` without traffic (node's socket timeout: bytes read or handed to the
 * kernel); `onTimeout` runs first (to say why). Returns a function that cancels the watch.
 */
export function watchSilence(stream: Duplex, ms: number, onTimeout: () => void): () => void {
  const sock = stream as Duplex & { setTimeout?: (ms: number, cb?: () => void) => unknown };
  if (ms <= 0 || typeof sock.setTimeout !== 'function') return () => undefined;
  const fire = (): void => {
    onTimeout();
    stream.destroy(new Error(`connection dropped after ${ms / 1000} s without traffic`));
  };
  sock.setTimeout(ms);
  sock.on('timeout', fire);
  return () => {
    sock.setTimeout?.(0);
    sock.off('timeout', fire);
  };
}
