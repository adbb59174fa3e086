/**
 * Name, address and port resolution as csync2 does it through getaddrinfo:
 * forward lookups in resolver order, numeric or /etc/services ports, and the
 * HELLO rule that the peer's address must be among its name's addresses.
 */
import { lookup } from 'node:dns';
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import type { BStr } from '../util/bytes.js';
import { CsyncError } from '../util/errors.js';

/** A failed getaddrinfo(); `message` is glibc's gai_strerror() text. */
export class ResolveError extends CsyncError {
  constructor(message: string, readonly code: string, readonly hostname: BStr) {
    super(message, `resolving ${JSON.stringify(hostname)}`);
  }
}

/** gai_strerror() texts for the error codes Node reports. */
const GAI_TEXT: Record<string, string> = {
  ENOTFOUND: 'Name or service not known',
  EAI_NONAME: 'Name or service not known',
  EAI_NODATA: 'No address associated with hostname',
  EAI_AGAIN: 'Temporary failure in name resolution',
  EAI_FAIL: 'Non-recoverable failure in name resolution',
  EAI_FAMILY: 'ai_family not supported',
  EAI_MEMORY: 'Memory allocation failure',
  EAI_SERVICE: 'Servname not supported for ai_socktype',
  EAI_SYSTEM: 'System error',
};

export interface ResolvedAddress {
  address: string;
  family: 4 | 6;
}

/**
 * All addresses `name` resolves to (IPv4 and IPv6, resolver order), like
 * getaddrinfo(name, AF_UNSPEC). `family` restricts to one family. Failure is
 * ResolveError with the gai_strerror text.
 */
export function resolveName(name: BStr, family: 0 | 4 | 6 = 0): Promise<ResolvedAddress[]> {
  if (name === '') return Promise.reject(new ResolveError(GAI_TEXT.EAI_NONAME!, 'EAI_NONAME', name));
  // Host names are bytes; the resolver wants the same bytes back as UTF-8 text.
  const host = Buffer.from(name, 'latin1').toString('utf8');
  return new Promise((resolve, reject) => {
    lookup(host, { all: true, family, verbatim: true }, (err, addrs) => {
      if (err) {
        const code = err.code ?? 'EAI_FAIL';
        reject(new ResolveError(GAI_TEXT[code] ?? err.message, code, name));
        return;
      }
      const out: ResolvedAddress[] = [];
      for (const a of addrs) {
        if ((a.family === 4 || a.family === 6) && !out.some((o) => o.address === a.address)) {
          out.push({ address: a.address, family: a.family });
        }
      }
      if (out.length === 0) reject(new ResolveError(GAI_TEXT.EAI_NODATA!, 'EAI_NODATA', name));
      else resolve(out);
    });
  });
}

/** The addresses `name` resolves to, as strings (for the daemon's HELLO check). */
export async function resolveAddresses(name: BStr): Promise<string[]> {
  return (await resolveName(name)).map((a) => a.address);
}

/**
 * csync2's HELLO rule: the peer's address equals one of `addresses` - IPv4 with
 * IPv4, IPv6 with IPv6 (compared as 16 bytes, so spellings do not matter), or
 * the peer is IPv4-mapped IPv6 (`::ffff:a.b.c.d`) and an IPv4 entry is a.b.c.d.
 * An IPv4 peer never matches an IPv6 entry, mapped or not.
 */
export function addressMatches(peerIp: string | null, addresses: readonly string[]): boolean {
  if (!peerIp) return false;
  const fam = isIP(peerIp);
  if (fam === 4) return addresses.some((a) => isIP(a) === 4 && ipv4Bytes(a) === ipv4Bytes(peerIp));
  if (fam !== 6) return false;
  const peer = ipv6Bytes(peerIp);
  if (peer === null) return false;
  const mapped = peer.startsWith('00000000000000000000ffff') ? peer.slice(24) : null;
  return addresses.some((a) => {
    const f = isIP(a);
    if (f === 6) return ipv6Bytes(a) === peer;
    return f === 4 && mapped !== null && ipv4Hex(a) === mapped;
  });
}

/** An IPv4-mapped IPv6 peer address as plain IPv4 (`::ffff:1.2.3.4` -> `1.2.3.4`); others unchanged. */
export function unmapIpv4(ip: string): string {
  const m = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip);
  return m ? m[1]! : ip;
}

function ipv4Bytes(ip: string): string {
  return ip.split('.').map((p) => String(Number(p))).join('.');
}

function ipv4Hex(ip: string): string {
  return ip.split('.').map((p) => Number(p).toString(16).padStart(2, '0')).join('');
}

/** 32 hex digits of an IPv6 address (with optional trailing dotted quad and zone), or null. */
export function ipv6Bytes(ip: string): string | null {
  let s = ip.toLowerCase();
  const zone = s.indexOf('%');
  if (zone >= 0) s = s.slice(0, zone);
  let tail = '';
  const quad = /(\d+\.\d+\.\d+\.\d+)$/.exec(s);
  if (quad) {
    if (isIP(quad[1]!) !== 4) return null;
    tail = ipv4Hex(quad[1]!);
    s = s.slice(0, s.length - quad[1]!.length) + '0:0';
  }
  const halves = s.split('::');
  if (halves.length > 2) return null;
  const groups = (part: string): string[] => (part === '' ? [] : part.split(':'));
  const left = groups(halves[0]!);
  const right = halves.length === 2 ? groups(halves[1]!) : [];
  const fill = 8 - left.length - right.length;
  if (halves.length === 1 ? fill !== 0 : fill < 0) return null;
  const all = [...left, ...new Array<string>(fill).fill('0'), ...right];
  if (!all.every((g) => /^[0-9a-f]{1,4}$/.test(g))) return null;
  const hex = all.map((g) => g.padStart(4, '0')).join('');
  return tail ? hex.slice(0, 24) + tail : hex;
}

/**
 * The TCP port for `-p` (a getaddrinfo service string): decimal digits, or a
 * tcp service name from /etc/services. Unknown names are ResolveError
 * `Servname not supported for ai_socktype`.
 */
export function resolvePort(service: string, servicesFile = '/etc/services'): number {
  if (/^[0-9]+$/.test(service)) {
    const n = Number(service);
    if (n <= 65535) return n;
  } else if (service !== '') {
    const port = lookupService(service, servicesFile);
    if (port !== null) return port;
  }
  throw new ResolveError(GAI_TEXT.EAI_SERVICE!, 'EAI_SERVICE', service);
}

function lookupService(name: string, servicesFile: string): number | null {
  let text: string;
  try {
    text = readFileSync(servicesFile, 'latin1');
  } catch {
    return null;
  }
  for (const raw of text.split('\n')) {
    const line = raw.replace(/#.*/, '').trim();
    if (!line) continue;
    const [svc, portProto, ...aliases] = line.split(/\s+/);
    const m = /^(\d+)\/tcp$/.exec(portProto ?? '');
    if (m && (svc === name || aliases.includes(name))) return Number(m[1]);
  }
  return null;
}
