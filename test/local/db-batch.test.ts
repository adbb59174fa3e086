/**
 * StateStore.beginBatch(): the daemon opens its batch transaction at a command's dirty check, so
 * the check's reads run inside it instead of each taking and dropping WAL's read lock. Seen from a
 * second connection: the write lock is held from beginBatch() until the commit; with -B (csync2's
 * small transactions) beginBatch() takes nothing; and rows read inside the batch are the ones
 * written in it.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import Database from 'better-sqlite3';
import { resolveDatabase } from '../../src/db/location.js';
import { StateStore } from '../../src/db/store.js';

const root = mkdtempSync(join(tmpdir(), 'csync2-db-batch-'));
after(() => rmSync(root, { recursive: true, force: true }));

function openStore(name: string, noBigTransactions: boolean): { store: StateStore; file: string } {
  const dir = join(root, name);
  mkdirSync(dir);
  const loc = resolveDatabase(dir, 'me', '');
  const store = StateStore.open(loc, { noBigTransactions, asyncMode: false, lockTimeout: 12, mmap: false });
  return { store, file: join(dir, 'me.db3') };
}

/** Can another connection write right now (no waiting for a lock)? */
function otherCanWrite(file: string): boolean {
  const other = new Database(file, { timeout: 0 });
  try {
    other.prepare("INSERT INTO action (filename, command, logfile) VALUES ('/probe', 'true', '')").run();
    other.prepare("DELETE FROM action WHERE filename = '/probe'").run();
    return true;
  } catch (err) {
    assert.equal((err as { code?: string }).code, 'SQLITE_BUSY');
    return false;
  } finally {
    other.close();
  }
}

test('beginBatch() holds the write lock until the commit, and the reads inside see the batch', () => {
  const { store, file } = openStore('batch', false);
  try {
    assert.equal(otherCanWrite(file), true);
    const serial = store.transactionSerial;
    store.beginBatch();
    assert.equal(store.transactionSerial, serial + 1);
    assert.equal(otherCanWrite(file), false, 'the batch holds the write lock');
    assert.deepEqual(store.rowsOf('/a'), { file: false, dirty: false });
    store.putFile('/a', 'v1:mtime=1');
    store.beginBatch(); // already open: the same transaction
    assert.equal(store.transactionSerial, serial + 1);
    assert.deepEqual(store.rowsOf('/a'), { file: true, dirty: false });
    store.commit();
    assert.equal(otherCanWrite(file), true, 'the commit released it');
  } finally {
    store.close();
  }
});

test('with -B (no big transactions) beginBatch() takes no lock', () => {
  const { store, file } = openStore('small', true);
  try {
    const serial = store.transactionSerial;
    store.beginBatch();
    assert.equal(store.transactionSerial, serial);
    assert.equal(otherCanWrite(file), true);
  } finally {
    store.close();
  }
});
