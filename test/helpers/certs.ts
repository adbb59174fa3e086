/**
 * TLS certificates for test hosts. A 2048-bit key costs ~0.2 s to generate, which adds up over
 * hundreds of test hosts, so a small pool of distinct certificates is made once per machine (in the
 * temp dir) and reused: host i of every cluster gets pool entry i. Within one cluster all hosts
 * differ, which is all that pinning (x509_cert) needs. Tests about replaced certificates ask for a
 * fresh one.
 */
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateCertificate, type CertificateFiles } from '../../src/net/cert.js';

const POOL_SIZE = 9;
const POOL_FILE = join(tmpdir(), `csync2-ts-test-certs-v1-${POOL_SIZE}.json`);

let pool: CertificateFiles[] | null = null;

function isPool(value: unknown): value is CertificateFiles[] {
  return Array.isArray(value) && value.length === POOL_SIZE
    && value.every((c) => typeof c?.keyPem === 'string' && typeof c?.certPem === 'string');
}

function loadPool(): CertificateFiles[] {
  if (pool) return pool;
  try {
    const cached: unknown = JSON.parse(readFileSync(POOL_FILE, 'utf8'));
    if (isPool(cached)) return (pool = cached);
  } catch {
    // missing or damaged: make a new one
  }
  const fresh = Array.from({ length: POOL_SIZE }, () => generateCertificate());
  // Write then rename: a concurrent reader sees the old file or the whole new one.
  const tmp = `${POOL_FILE}.${process.pid}.tmp`;
  writeFileSync(tmp, JSON.stringify(fresh), { mode: 0o600 });
  renameSync(tmp, POOL_FILE);
  return (pool = fresh);
}

/** Certificate for the host with this index in its cluster (distinct for indexes 0..8). */
export function hostCertificate(index: number, fresh = false): CertificateFiles {
  if (fresh || index >= POOL_SIZE) return generateCertificate();
  return loadPool()[index]!;
}
