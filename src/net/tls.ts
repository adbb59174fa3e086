/**
 * The STARTTLS part of csync2: after `SSL` / `OK (activating_ssl).` both ends
 * run a TLS handshake on the open socket. Parameters are chosen for interop
 * with the real GnuTLS build (protocol.md section 3):
 * - server: requests a client certificate but advertises NO CA names, so a
 *   GnuTLS client sends its certificate whatever its issuer; caps at TLS 1.2
 *   because TLS 1.3 session tickets make the GnuTLS client see end of file;
 * - both: no chain verification (the caller pins the peer's certificate), and
 *   `@SECLEVEL=0` so the 1024-bit RSA keys of `make cert` still work.
 */
import { readFileSync } from 'node:fs';
import { createPrivateKey, X509Certificate, type KeyObject } from 'node:crypto';
import type { Duplex } from 'node:stream';
import * as tls from 'node:tls';
import type { BStr } from '../util/bytes.js';
import { FatalError } from '../util/errors.js';

export const KEY_FILE = 'csync2_ssl_key.pem';
export const CERT_FILE = 'csync2_ssl_cert.pem';

export interface TlsCredentials {
  key: Buffer;
  cert: Buffer;
}

/** GnuTLS's texts for the failures csync2 reports when loading the pair. */
const GNUTLS = {
  FILE_ERROR: ['Error while reading file.', 'GNUTLS_E_FILE_ERROR'],
  NO_KEY: ['The requested data were not available.', 'GNUTLS_E_REQUESTED_DATA_NOT_AVAILABLE'],
  NO_CERT: ['Base64 decoding error.', 'GNUTLS_E_BASE64_DECODING_ERROR'],
  BAD_DER: ['ASN1 parser: Error in TAG.', 'GNUTLS_E_ASN1_TAG_ERROR'],
  MISMATCH: ['The certificate and the given key do not match.', 'GNUTLS_E_CERTIFICATE_KEY_MISMATCH'],
} as const;

const PEM_KEY = /-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----/;
const PEM_CERT = /-----BEGIN (?:X509 |TRUSTED )?CERTIFICATE-----/;

/**
 * Read `<systemDir>/csync2_ssl_key.pem` and `csync2_ssl_cert.pem` and check them
 * the way GnuTLS does (key parses, certificate parses, they match). Failure is
 * FatalError `SSL: failed to use key file <key> and/or certificate file <cert>:
 * <msg> (<NAME>)` with the GnuTLS text the real csync2 prints for that case.
 */
export function loadTlsCredentials(systemDir: string): TlsCredentials {
  const keyPath = `${systemDir}/${KEY_FILE}`;
  const certPath = `${systemDir}/${CERT_FILE}`;
  const fail = (why: readonly [string, string], detail?: string): never => {
    throw new FatalError(
      `SSL: failed to use key file ${keyPath} and/or certificate file ${certPath}: ${why[0]} (${why[1]})`, detail);
  };
  let key: Buffer;
  let cert: Buffer;
  try {
    key = readFileSync(keyPath);
    cert = readFileSync(certPath);
  } catch (err) {
    return fail(GNUTLS.FILE_ERROR, (err as Error).message);
  }
  if (!PEM_KEY.test(key.toString('latin1'))) fail(GNUTLS.NO_KEY);
  let keyObj: KeyObject;
  try {
    keyObj = createPrivateKey(key);
  } catch (err) {
    return fail(GNUTLS.BAD_DER, (err as Error).message);
  }
  if (!PEM_CERT.test(cert.toString('latin1'))) fail(GNUTLS.NO_CERT);
  let x509: X509Certificate;
  try {
    x509 = new X509Certificate(cert);
  } catch (err) {
    return fail(GNUTLS.BAD_DER, (err as Error).message);
  }
  if (!x509.checkPrivateKey(keyObj)) fail(GNUTLS.MISMATCH);
  return { key, cert };
}

/**
 * Beyond csync2: the TLS application protocol (ALPN) a csync2-ts client offers
 * and a csync2-ts daemon accepts. Agreeing on it allows XPATCH (replies.ts); a
 * real csync2 neither offers nor answers it, so its conversation is untouched.
 */
export const EXTENSIONS_ALPN = 'csync2-ts.1';
/** Version 2 adds XPATCHS (a delta streamed in chunks, replies.ts); offered first, v1 peers pick v1. */
export const EXTENSIONS_ALPN_V2 = 'csync2-ts.2';
/** Version 3 adds SIGT (SIG without the signature's bytes, replies.ts). */
export const EXTENSIONS_ALPN_V3 = 'csync2-ts.3';
/**
 * Version 4: a command that creates an entry (MKDIR, MK*, XPATCH, XPATCHS) where nothing is
 * and whose parent directory is missing answers `Parent dir missing.`, as SIG does there; so
 * a client may send it without a SIG first below a directory its own MKDIR just created.
 */
export const EXTENSIONS_ALPN_V4 = 'csync2-ts.4';
/** Version 5 adds XPATCHA (XPATCH with the file's SETOWN, SETMOD and SETIME on its line, replies.ts). */
export const EXTENSIONS_ALPN_V5 = 'csync2-ts.5';
/** Every version we speak, most capable first (the server picks the first the client offers). */
export const EXTENSIONS_ALPN_ALL = [EXTENSIONS_ALPN_V5, EXTENSIONS_ALPN_V4, EXTENSIONS_ALPN_V3, EXTENSIONS_ALPN_V2, EXTENSIONS_ALPN];

/** Allow RSA-1024 and SHA-1 signed certificates (`make cert`). */
const CIPHERS = 'DEFAULT:@SECLEVEL=0';

function secureContext(creds: TlsCredentials, server: boolean): tls.SecureContext {
  return tls.createSecureContext({
    key: creds.key,
    cert: creds.cert,
    ciphers: CIPHERS,
    minVersion: 'TLSv1',
    // No CA store: peers are pinned, never verified, and loading node's root certificates
    // took ~25 ms of every TLS process's start here.
    ca: [],
    // TLS 1.3 session tickets break the GnuTLS client; the client role may use 1.3.
    maxVersion: server ? 'TLSv1.2' : 'TLSv1.3',
  });
}

/** A handshake failure as csync2 reports it (fatal, exit 1). */
function handshakeError(err: Error): FatalError {
  const code = (err as NodeJS.ErrnoException).code ?? 'ERR_TLS';
  return new FatalError(`SSL: handshake failed: ${err.message} (${code})`);
}

/**
 * Server role on an already-open connection. `readAhead` = bytes the line reader
 * had already received past the `SSL` line; they are fed to TLS first. Rejects
 * with FatalError if the handshake fails or the client sent no certificate.
 */
export function upgradeServer(socket: Duplex, readAhead: Buffer, creds: TlsCredentials): Promise<tls.TLSSocket> {
  if (readAhead.length > 0) socket.unshift(readAhead);
  const tlsSocket = new tls.TLSSocket(socket, {
    isServer: true,
    secureContext: secureContext(creds, true),
    requestCert: true,
    rejectUnauthorized: false,
    ALPNProtocols: EXTENSIONS_ALPN_ALL,
  });
  return handshake(tlsSocket, 'secure', () =>
    peerCertDer(tlsSocket) ? null : new FatalError(
      'SSL: handshake failed: Certificate is required. (GNUTLS_E_CERTIFICATE_REQUIRED)', 'the client sent no certificate'));
}

/**
 * Client role: presents our certificate, does not verify the server's (the
 * caller pins it with peerCertHex). Works against the real GnuTLS server.
 */
export function upgradeClient(socket: Duplex, creds: TlsCredentials, servername?: string,
  offerExtensions = false): Promise<tls.TLSSocket> {
  const tlsSocket = tls.connect({
    socket,
    secureContext: secureContext(creds, false),
    rejectUnauthorized: false,
    ALPNProtocols: offerExtensions ? EXTENSIONS_ALPN_ALL : undefined,
    // SNI only for real host names (never for IP literals); csync2 sends none.
    servername: servername && !/^[0-9.]+$|:/.test(servername) ? servername : undefined,
  });
  return handshake(tlsSocket, 'secureConnect', () => null);
}

/**
 * Wait for the handshake event; an error, or the connection closing first, is a
 * handshake failure. `check` may refuse the finished handshake.
 */
function handshake(tlsSocket: tls.TLSSocket, doneEvent: 'secure' | 'secureConnect',
  check: () => FatalError | null): Promise<tls.TLSSocket> {
  return new Promise((resolve, reject) => {
    const cleanup = (): void => {
      tlsSocket.off('error', onError);
      tlsSocket.off('close', onClose);
      tlsSocket.off('end', onClose);
      tlsSocket.off(doneEvent, onDone);
    };
    const fail = (err: FatalError): void => {
      cleanup();
      tlsSocket.destroy();
      reject(err);
    };
    const onError = (err: Error): void => fail(handshakeError(err));
    const onClose = (): void => fail(handshakeError(Object.assign(
      new Error('The TLS connection was non-properly terminated.'), { code: 'GNUTLS_E_PREMATURE_TERMINATION' })));
    const onDone = (): void => {
      const refused = check();
      if (refused) return fail(refused);
      cleanup();
      // Until the caller's reader/writer listen, a late error must not crash the process.
      tlsSocket.on('error', () => {});
      resolve(tlsSocket);
    };
    tlsSocket.on('error', onError);
    tlsSocket.on('close', onClose);
    // The peer's EOF: with half-open sockets (early-listen.ts HALF_OPEN) nothing closes the connection for us.
    tlsSocket.on('end', onClose);
    tlsSocket.on(doneEvent, onDone);
  });
}

function peerCertDer(tlsSocket: tls.TLSSocket): Buffer | null {
  const cert = tlsSocket.getPeerCertificate();
  return cert && cert.raw && cert.raw.length > 0 ? cert.raw : null;
}

/** The peer's leaf certificate (DER) as UPPERCASE hex, as stored in x509_cert; null if none. */
export function peerCertHex(tlsSocket: tls.TLSSocket): BStr | null {
  const der = peerCertDer(tlsSocket);
  return der ? der.toString('hex').toUpperCase() : null;
}

/** Our own certificate's DER as UPPERCASE hex (what a peer pins for us). */
export function certHex(certPem: Buffer | string): BStr {
  return new X509Certificate(certPem).raw.toString('hex').toUpperCase();
}
