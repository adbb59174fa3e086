// src/net/cert.ts and bin/csync2-cert: certificates that the real csync2 (GnuTLS) accepts.
import assert from 'node:assert/strict';
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import {
  CERT_FILE_NAME, KEY_FILE_NAME, MAKE_CERT_SUBJECT, generateCertificate, writeHostCertificate,
} from '../../src/net/cert.js';
import { ProcessTracker, REPO_ROOT, createCluster, syncOnce, type Cluster } from '../helpers/index.js';

/** The DN of `make cert` as OpenSSL encodes it (countryName PrintableString, the rest UTF8String). */
const MAKE_CERT_DN_DER = '3045310b30090603550406130241553113301106035504080c0a536f6d652d53746174653121301f06035504'
  + '0a0c18496e7465726e6574205769646769747320507479204c7464';

const tracker = new ProcessTracker();
const scratch = mkdtempSync(join(tmpdir(), 'csync2-ts-cert-'));
after(async () => {
  await tracker.stopAll();
  rmSync(scratch, { recursive: true, force: true });
});

function derHex(certPem: string): string {
  return new X509Certificate(certPem).raw.toString('hex');
}

function occurrences(haystack: string, needle: string): number {
  return haystack.split(needle).length - 1;
}

/** What upstream's `make cert` does, with openssl (only the test uses it, as the reference). */
async function makeCertWithOpenssl(dir: string, bits = 1024): Promise<void> {
  const key = join(dir, KEY_FILE_NAME);
  const csr = join(dir, 'csync2_ssl_cert.csr');
  const steps = [
    ['openssl', 'genrsa', '-out', key, String(bits)],
    ['openssl', 'req', '-new', '-key', key, '-out', csr, '-batch'],
    ['openssl', 'x509', '-req', '-days', '600', '-in', csr, '-signkey', key, '-out', join(dir, CERT_FILE_NAME)],
  ];
  for (const argv of steps) {
    const r = await tracker.run(argv);
    assert.equal(r.code, 0, `${argv.join(' ')}: ${r.stderr}`);
  }
  rmSync(csr);
}

describe('generateCertificate', () => {
  test('self-signed RSA-2048, 3650 days, subject = issuer = the make-cert DN', () => {
    const { keyPem, certPem } = generateCertificate();
    const cert = new X509Certificate(certPem);
    const key = createPrivateKey(keyPem);
    assert.equal(cert.subject, 'C=AU\nST=Some-State\nO=Internet Widgits Pty Ltd');
    assert.equal(cert.issuer, cert.subject);
    assert.ok(cert.verify(cert.publicKey), 'signature made with its own key');
    assert.ok(cert.checkPrivateKey(key));
    assert.equal(key.asymmetricKeyDetails?.modulusLength, 2048);
    assert.match(keyPem, /^-----BEGIN RSA PRIVATE KEY-----\n/);
    const days = (Date.parse(cert.validTo) - Date.parse(cert.validFrom)) / 86_400_000;
    assert.ok(Math.abs(days - 3650) < 1, `validity ${days} days`);
    assert.ok(Date.parse(cert.validFrom) <= Date.now());
    assert.deepEqual(MAKE_CERT_SUBJECT.map((a) => a.shortName), ['C', 'ST', 'O']);
  });

  test('the DN bytes equal those of an openssl-made certificate (issuer and subject)', async () => {
    const ours = derHex(generateCertificate({ bits: 1024 }).certPem);
    assert.equal(occurrences(ours, MAKE_CERT_DN_DER), 2);
    const dir = mkdtempSync(join(scratch, 'openssl-'));
    await makeCertWithOpenssl(dir);
    assert.equal(occurrences(derHex(readFileSync(join(dir, CERT_FILE_NAME), 'latin1')), MAKE_CERT_DN_DER), 2);
  });

  test('options: bits, days, subject; every certificate is distinct', () => {
    const a = generateCertificate({ bits: 1024, days: 10, subject: 'C=DE, O=Example, CN=node1' });
    const cert = new X509Certificate(a.certPem);
    assert.equal(cert.subject, 'C=DE\nO=Example\nCN=node1');
    assert.equal(createPrivateKey(a.keyPem).asymmetricKeyDetails?.modulusLength, 1024);
    const days = (Date.parse(cert.validTo) - Date.parse(cert.validFrom)) / 86_400_000;
    assert.ok(Math.abs(days - 10) < 1);
    const b = generateCertificate({ bits: 1024, days: 10, subject: 'C=DE, O=Example, CN=node1' });
    assert.notEqual(new X509Certificate(b.certPem).serialNumber, cert.serialNumber);
    assert.throws(() => generateCertificate({ bits: 100 }), /bad key size/);
  });
});

describe('writeHostCertificate and bin/csync2-cert', () => {
  test('writes the key with mode 0600, refuses to overwrite unless forced', () => {
    const dir = mkdtempSync(join(scratch, 'write-'));
    const first = writeHostCertificate(dir, { bits: 1024 });
    assert.equal(statSync(join(dir, KEY_FILE_NAME)).mode & 0o777, 0o600);
    assert.equal(readFileSync(join(dir, CERT_FILE_NAME), 'utf8'), first.certPem);
    assert.throws(() => writeHostCertificate(dir, { bits: 1024 }), /already exists/);
    assert.equal(readFileSync(join(dir, CERT_FILE_NAME), 'utf8'), first.certPem);
    const second = writeHostCertificate(dir, { bits: 1024, force: true });
    assert.notEqual(second.certPem, first.certPem);
    assert.equal(readFileSync(join(dir, KEY_FILE_NAME), 'utf8'), second.keyPem);
  });

  test('forcing resets a loose key file mode to 0600', () => {
    const dir = mkdtempSync(join(scratch, 'mode-'));
    writeFileSync(join(dir, KEY_FILE_NAME), 'old');
    chmodSync(join(dir, KEY_FILE_NAME), 0o644);
    writeHostCertificate(dir, { bits: 1024, force: true });
    assert.equal(statSync(join(dir, KEY_FILE_NAME)).mode & 0o777, 0o600);
  });

  test('csync2-cert [-f] [-b BITS] [-d DAYS] [DIR], DIR defaulting to $CSYNC2_SYSTEM_DIR', async () => {
    const bin = join(REPO_ROOT, 'bin', 'csync2-cert');
    const dir = mkdtempSync(join(scratch, 'cli-'));
    let r = await tracker.run([process.execPath, bin, '-b', '1024', '-d', '30', dir]);
    assert.equal(r.code, 0, r.stderr.toString());
    assert.match(r.stdout.toString(), new RegExp(`wrote ${join(dir, KEY_FILE_NAME)}`));
    const cert = new X509Certificate(readFileSync(join(dir, CERT_FILE_NAME)));
    assert.ok(Math.abs((Date.parse(cert.validTo) - Date.parse(cert.validFrom)) / 86_400_000 - 30) < 1);
    assert.equal(createPrivateKey(readFileSync(join(dir, KEY_FILE_NAME))).asymmetricKeyDetails?.modulusLength, 1024);

    r = await tracker.run([process.execPath, bin, '-b', '1024', dir]);
    assert.equal(r.code, 1);
    assert.match(r.stderr.toString(), /already exists/);

    r = await tracker.run([process.execPath, bin, '-f', '-b', '1024'], { env: { ...process.env, CSYNC2_SYSTEM_DIR: dir } });
    assert.equal(r.code, 0, r.stderr.toString());
    assert.notEqual(new X509Certificate(readFileSync(join(dir, CERT_FILE_NAME))).serialNumber, cert.serialNumber);

    r = await tracker.run([process.execPath, bin, '-x']);
    assert.equal(r.code, 1);
    assert.match(r.stderr.toString(), /usage: csync2-cert \[-f\] \[-b BITS\] \[-d DAYS\] \[DIR\]/);
  });
});

describe('real csync2 client and daemon with these certificates', () => {
  let cluster: Cluster;
  after(() => cluster?.cleanup());

  test('negotiate TLS in both directions and pin each other\'s certificate', async () => {
    cluster = await createCluster({ hosts: [{ impl: 'real' }, { impl: 'real' }] });
    const [a, b] = cluster.hosts as [typeof cluster.hosts[0], typeof cluster.hosts[0]];
    const certA = writeHostCertificate(a.sysDir, { force: true });
    const certB = writeHostCertificate(b.sysDir, { force: true });
    await a.write('from-a', 'a\n');
    let r = await syncOnce(a, b, ['-xvv']);
    assert.ok(r.ok, r.text);
    assert.match(r.client.stderr.toString(), /Connecting to host .* \(SSL\)/, r.text);
    await b.write('from-b', 'b\n');
    r = await syncOnce(b, a, ['-xvv']);
    assert.ok(r.ok, r.text);
    assert.equal((await a.read('from-b')).toString(), 'b\n');
    assert.deepEqual(await a.dump('x509_cert'), [[b.name, derHex(certB.certPem).toUpperCase()]]);
    assert.deepEqual(await b.dump('x509_cert'), [[a.name, derHex(certA.certPem).toUpperCase()]]);
  });

  test('interoperate with a host whose certificate came from `make cert` (openssl)', async () => {
    const c = await createCluster({ hosts: [{ impl: 'real' }, { impl: 'real' }] });
    try {
      const [x, y] = c.hosts as [typeof c.hosts[0], typeof c.hosts[0]];
      await makeCertWithOpenssl(x.sysDir);
      writeHostCertificate(y.sysDir, { force: true });
      await x.write('f', 'x\n');
      let r = await syncOnce(x, y);
      assert.ok(r.ok, r.text);
      await y.write('g', 'y\n');
      r = await syncOnce(y, x);
      assert.ok(r.ok, r.text);
      assert.equal((await x.read('g')).toString(), 'y\n');
    } finally {
      await c.cleanup();
    }
  });

  test('control: a client certificate with another DN is not sent and the real server refuses', async () => {
    const c = await createCluster({ hosts: [{ impl: 'real' }, { impl: 'real' }] });
    try {
      const [x, y] = c.hosts as [typeof c.hosts[0], typeof c.hosts[0]];
      writeHostCertificate(x.sysDir, { force: true, subject: 'CN=host-a-different' });
      await x.write('f', 'x\n');
      const r = await syncOnce(x, y);
      assert.notEqual(r.client.code, 0, r.text);
      assert.equal(await y.stat('f'), null);
      assert.match(r.text, /Certificate is required|handshake failed/i, r.text);
    } finally {
      await c.cleanup();
    }
  });
});
