/**
 * Disk full on the receiver: its data directory is a small tmpfs. A push that does
 * not fit fails with a message that names the cause, leaves the old file intact (or
 * no file at all for a new one), leaves no temp file behind and keeps the client's
 * dirty row; once space is freed, the next run delivers.
 *
 * Needs root (mount); `make test` runs as root on CI. Without it the test fails with
 * a clear message instead of skipping.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { createCluster, formatRun, syncOnce, type Cluster, type Impl, type TestHost } from '../helpers/index.js';
import { CLIENT_IMPLS, integrityOk, tempFilesIn } from './common.js';

const MiB = 1 << 20;

function sha(b: Buffer): string {
  return createHash('sha256').update(b).digest('hex');
}

function mountTmpfs(dir: string, mib: number): void {
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${mib}m,mode=0755`, 'tmpfs', dir], { stdio: 'pipe' });
  } catch (err) {
    throw new Error(`the disk-full trial needs a small tmpfs on ${dir} and could not mount one (run as root): ${String(err)}`);
  }
}

function resizeTmpfs(dir: string, mib: number): void {
  execFileSync('mount', ['-o', `remount,size=${mib}m`, dir], { stdio: 'pipe' });
}

function unmount(dir: string): void {
  try {
    execFileSync('umount', ['-l', dir], { stdio: 'pipe' });
  } catch {
    // Not mounted (the before hook failed early).
  }
}

async function shaOf(host: TestHost, rel: string): Promise<string | null> {
  try {
    return sha(await host.read(rel));
  } catch {
    return null;
  }
}

describe('disk full on the receiver', { concurrency: false }, () => {
  for (const clientImpl of CLIENT_IMPLS) {
    describe(`${clientImpl} client -> ours daemon`, () => {
      let cluster: Cluster;
      let client: TestHost;
      let server: TestHost;
      let mounted = '';

      before(async () => {
        cluster = await createCluster({ hosts: [{ impl: clientImpl }, { impl: 'ours' as Impl }] });
        [client, server] = cluster.hosts as [TestHost, TestHost];
        mountTmpfs(server.dataDir, 4);
        mounted = server.dataDir;
      });
      after(async () => {
        if (mounted) unmount(mounted);
        await cluster?.cleanup();
      });

      it('a change that does not fit fails clearly, keeps the old file and the dirty row, then arrives', async () => {
        const v1 = randomBytes(1 * MiB);
        await client.write('a.bin', v1);
        await client.write('small.txt', 'fits\n');
        let r = await syncOnce(client, server);
        assert.ok(r.ok, r.text);
        assert.equal(await shaOf(server, 'a.bin'), sha(v1));

        // 3.5 MiB new content beside the 1 MiB old one on a 4 MiB disk: the temp copy cannot be written.
        const v2 = randomBytes(3.5 * MiB);
        await client.write('a.bin', v2);
        // And a new file that cannot fit either.
        await client.write('new.bin', randomBytes(3.5 * MiB));
        await client.write('small2.txt', 'also fits\n');
        r = await syncOnce(client, server);
        assert.notEqual(r.client.code, 0, `the push that cannot fit must fail\n${r.text}`);
        // The daemon's log names the cause; our client names it too (csync2's only at -vvv).
        assert.match(r.server.stderr.toString(), /No space left on device/, `the daemon names the cause\n${r.text}`);
        if (clientImpl === 'ours') {
          assert.match(r.client.stderr.toString(), /Error reply from \S+: No space left on device/, `the client names the cause\n${r.text}`);
        }
        assert.equal(await shaOf(server, 'a.bin'), sha(v1), 'the old file stays intact');
        assert.equal(await shaOf(server, 'new.bin'), null, 'no partial new file');
        assert.equal((await server.read('small2.txt')).toString(), 'also fits\n', 'what fits still arrives');
        assert.deepEqual(await tempFilesIn(server.dataDir), [], 'no temp file left on the full disk');
        const dirty = (await client.dump('dirty')).map((row) => row.join('|')).join('\n');
        assert.match(dirty, /a\.bin/, `a.bin stays dirty\n${dirty}`);
        assert.match(dirty, /new\.bin/, `new.bin stays dirty\n${dirty}`);
        assert.ok(await integrityOk(server));

        // Space freed: the next run delivers both.
        resizeTmpfs(server.dataDir, 16);
        r = await syncOnce(client, server);
        assert.ok(r.ok, r.text);
        assert.equal(await shaOf(server, 'a.bin'), sha(v2));
        assert.equal(await shaOf(server, 'new.bin'), sha(await client.read('new.bin')));
        assert.deepEqual(await client.dump('dirty'), [], formatRun(r.client));
        assert.deepEqual(await tempFilesIn(server.dataDir), []);
      });
    });
  }
});
