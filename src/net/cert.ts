/**
 * Self-signed TLS certificates for csync2 hosts, made without the openssl tool.
 *
 * csync2 reads `$CSYNC2_SYSTEM_DIR/csync2_ssl_key.pem` and `csync2_ssl_cert.pem` and only pins the peer's
 * certificate (table x509_cert); nobody verifies a chain. What matters for interop is the DN: a real
 * (GnuTLS) csync2 client only sends its certificate when its issuer DN equals the DN a real server
 * advertises (the server's own subject), so every host must carry the DN of upstream's `make cert`,
 * `C=AU, ST=Some-State, O=Internet Widgits Pty Ltd`, DER-encoded exactly as OpenSSL does it
 * (countryName as PrintableString, every other attribute as UTF8String) so that our certificates and
 * `make cert` ones interoperate in one cluster.
 *
 * Defaults differ from `make cert` (1024 bits, 600 days) on purpose:
 * - 2048 bits: 1024-bit RSA is refused by OpenSSL at security level 2 (Debian's system default) and
 *   flagged as weak by current GnuTLS; 2048 costs ~0.2 s once per host.
 * - 3650 days: csync2 never checks expiry, but a new certificate means deleting its pinned row in
 *   x509_cert on every peer, so a short lifetime only creates work.
 *
 * The key comes from Node's crypto (native, fast); node-forge builds the X.509 structure, and the
 * signature is made by Node's crypto too (forge's pure-JS RSA takes ~80 ms per signature).
 */
import { constants, createPublicKey, generateKeyPairSync, privateEncrypt, randomBytes, type KeyObject } from 'node:crypto';
import { closeSync, constants as fsConstants, existsSync, fchmodSync, openSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import forge from 'node-forge';

/** One DN attribute, e.g. `{ shortName: 'O', value: 'Example' }`. */
export interface DnAttribute {
  shortName: string;
  value: string;
}

export interface CertificateOptions {
  /** RSA modulus size in bits (default 2048). */
  bits?: number;
  /** Validity in days from now (default 3650). */
  days?: number;
  /** Subject = issuer DN: attributes in order, or text like `C=AU, ST=Some-State, O=Example`. */
  subject?: string | DnAttribute[];
}

export interface CertificateFiles {
  keyPem: string;
  certPem: string;
}

export const DEFAULT_CERT_BITS = 2048;
export const DEFAULT_CERT_DAYS = 3650;
/** The DN of `make cert` with OpenSSL's default answers (the same on every csync2 host). */
export const MAKE_CERT_SUBJECT: readonly DnAttribute[] = Object.freeze([
  { shortName: 'C', value: 'AU' },
  { shortName: 'ST', value: 'Some-State' },
  { shortName: 'O', value: 'Internet Widgits Pty Ltd' },
]);
export const KEY_FILE_NAME = 'csync2_ssl_key.pem';
export const CERT_FILE_NAME = 'csync2_ssl_cert.pem';

const DAY_MS = 24 * 60 * 60 * 1000;
/** DER prefix of the PKCS#1 v1.5 DigestInfo for SHA-256 (RFC 8017 section 9.2, note 1). */
const SHA256_DIGEST_INFO = Buffer.from('3031300d060960864801650304020105000420', 'hex');

export function parseSubject(subject: string | DnAttribute[]): DnAttribute[] {
  if (Array.isArray(subject)) return subject;
  const parts = subject.split(/[,/]/).map((p) => p.trim()).filter((p) => p !== '');
  return parts.map((part) => {
    const eq = part.indexOf('=');
    if (eq <= 0) throw new Error(`bad subject attribute '${part}' (want NAME=value)`);
    return { shortName: part.slice(0, eq).trim(), value: part.slice(eq + 1).trim() };
  });
}

/** OpenSSL's default string_mask (utf8only): countryName must be PrintableString, the rest UTF8String. */
function toForgeFields(attrs: DnAttribute[]): forge.pki.CertificateField[] {
  return attrs.map((a) => ({
    shortName: a.shortName,
    value: a.value,
    valueTagClass: (a.shortName === 'C' ? forge.asn1.Type.PRINTABLESTRING : forge.asn1.Type.UTF8) as unknown as forge.asn1.Class,
  }));
}

/** A positive serial number of 16 random bytes, as hex (the top bit cleared keeps the INTEGER positive). */
function randomSerial(): string {
  const serial = randomBytes(16);
  serial[0] = (serial[0]! & 0x7f) | 0x01;
  return serial.toString('hex');
}

/** Duck-typed forge signer: forge hands over the SHA-256 digest of the TBS certificate. */
function nodeSigner(privateKey: KeyObject): forge.pki.rsa.PrivateKey {
  const signer = {
    sign(md: forge.md.MessageDigest): string {
      const digest = Buffer.from(md.digest().getBytes(), 'binary');
      const signature = privateEncrypt({ key: privateKey, padding: constants.RSA_PKCS1_PADDING },
        Buffer.concat([SHA256_DIGEST_INFO, digest]));
      return signature.toString('binary');
    },
  };
  return signer as unknown as forge.pki.rsa.PrivateKey;
}

export function generateCertificate(opts: CertificateOptions = {}): CertificateFiles {
  const bits = opts.bits ?? DEFAULT_CERT_BITS;
  const days = opts.days ?? DEFAULT_CERT_DAYS;
  if (!Number.isInteger(bits) || bits < 512 || bits > 16384) throw new Error(`bad key size ${bits}`);
  if (!Number.isFinite(days) || days <= 0) throw new Error(`bad validity ${days} days`);
  const subject = toForgeFields(parseSubject(opts.subject ?? [...MAKE_CERT_SUBJECT]));

  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: bits, publicExponent: 0x10001 });
  const publicPem = createPublicKey(privateKey).export({ type: 'spki', format: 'pem' }).toString();

  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.publicKeyFromPem(publicPem);
  cert.serialNumber = randomSerial();
  // Backdate a minute so a peer whose clock is slightly behind does not see a future certificate.
  const now = Date.now();
  cert.validity.notBefore = new Date(now - 60_000);
  cert.validity.notAfter = new Date(now + days * DAY_MS);
  cert.setSubject(subject);
  cert.setIssuer(subject);
  cert.setExtensions([
    { name: 'basicConstraints', cA: true },
    { name: 'subjectKeyIdentifier' },
  ]);
  cert.sign(nodeSigner(privateKey), forge.md.sha256.create());

  return {
    // PKCS#1 ("BEGIN RSA PRIVATE KEY"): readable by every GnuTLS and OpenSSL version csync2 was built with.
    keyPem: privateKey.export({ type: 'pkcs1', format: 'pem' }).toString(),
    certPem: forge.pki.certificateToPem(cert),
  };
}

export interface WriteCertificateOptions extends CertificateOptions {
  /** Replace existing files (default: refuse). */
  force?: boolean;
}

export interface WrittenCertificate extends CertificateFiles {
  keyPath: string;
  certPath: string;
}

/** Writes csync2_ssl_key.pem (mode 0600) and csync2_ssl_cert.pem into `systemDir`. */
export function writeHostCertificate(systemDir: string, opts: WriteCertificateOptions = {}): WrittenCertificate {
  const keyPath = join(systemDir, KEY_FILE_NAME);
  const certPath = join(systemDir, CERT_FILE_NAME);
  if (!opts.force) {
    for (const path of [keyPath, certPath]) {
      if (existsSync(path)) throw new Error(`${path} already exists (use -f to replace it)`);
    }
  }
  const files = generateCertificate(opts);
  writeFileExclusive(keyPath, files.keyPem, 0o600, opts.force ?? false);
  writeFileExclusive(certPath, files.certPem, 0o644, opts.force ?? false);
  return { ...files, keyPath, certPath };
}

/** O_EXCL unless forced, so a racing writer cannot be overwritten; forced files get the mode reset too. */
function writeFileExclusive(path: string, text: string, mode: number, force: boolean): void {
  const flags = fsConstants.O_WRONLY | fsConstants.O_CREAT | (force ? fsConstants.O_TRUNC : fsConstants.O_EXCL);
  const fd = openSync(path, flags, mode);
  try {
    // An existing key file may have been world-readable; open()'s mode does not change it.
    if (force) fchmodSync(fd, mode);
    writeSync(fd, text);
  } finally {
    closeSync(fd);
  }
}

const USAGE = `usage: csync2-cert [-f] [-b BITS] [-d DAYS] [DIR]
Writes a self-signed TLS key and certificate for csync2 into DIR
(default: $CSYNC2_SYSTEM_DIR, else /etc):
  DIR/${KEY_FILE_NAME} (mode 0600) and DIR/${CERT_FILE_NAME}.
  -f       replace existing files
  -b BITS  RSA key size (default ${DEFAULT_CERT_BITS})
  -d DAYS  validity in days (default ${DEFAULT_CERT_DAYS})
Subject = issuer = C=AU, ST=Some-State, O=Internet Widgits Pty Ltd, like csync2's "make cert".
`;

/** The csync2-cert command; returns the exit code. */
export function certMain(argv: string[], env: NodeJS.ProcessEnv = process.env): number {
  let force = false;
  let bits: number | undefined;
  let days: number | undefined;
  const rest: string[] = [];
  try {
    for (let i = 0; i < argv.length; i++) {
      const arg = argv[i]!;
      const value = (): number => {
        const text = argv[++i];
        if (text === undefined || !/^\d+$/.test(text)) throw new Error(`${arg} needs a number`);
        return Number(text);
      };
      if (arg === '-f') force = true;
      else if (arg === '-b') bits = value();
      else if (arg === '-d') days = value();
      else if (arg === '-h' || arg === '--help') {
        process.stdout.write(USAGE);
        return 0;
      } else if (arg.startsWith('-') && arg !== '-') throw new Error(`unknown option ${arg}`);
      else rest.push(arg);
    }
    if (rest.length > 1) throw new Error('at most one directory');
  } catch (err) {
    process.stderr.write(`csync2-cert: ${(err as Error).message}\n${USAGE}`);
    return 1;
  }
  const dir = rest[0] ?? (env.CSYNC2_SYSTEM_DIR || '/etc');
  try {
    const written = writeHostCertificate(dir, { force, bits, days });
    process.stdout.write(`wrote ${written.keyPath} (RSA ${bits ?? DEFAULT_CERT_BITS} bits, mode 0600)\n`
      + `wrote ${written.certPath} (self-signed, ${days ?? DEFAULT_CERT_DAYS} days, `
      + `subject C=AU, ST=Some-State, O=Internet Widgits Pty Ltd)\n`);
    return 0;
  } catch (err) {
    process.stderr.write(`csync2-cert: ${(err as Error).message}\n`);
    return 1;
  }
}
