/**
 * Child process for the memory test: signature, delta and patch of the files
 * named on the command line, in this process, then prints the peak RSS (KiB).
 *   node rss-probe.js BASIS NEW DIR
 */
import { closeSync, createReadStream, openSync } from 'node:fs';
import { join } from 'node:path';
import { deltaFile, parseSignature, patchToFile, signatureOfFile } from '../../src/rsync/index.js';

const [basis, next, dir] = process.argv.slice(2);
const sig = await signatureOfFile(basis);
let fd = openSync(join(dir, 'probe.delta'), 'w');
await deltaFile(parseSignature(sig), next, fd);
closeSync(fd);
fd = openSync(join(dir, 'probe.out'), 'w');
await patchToFile(basis, createReadStream(join(dir, 'probe.delta'), { highWaterMark: 1 << 20 }), fd);
closeSync(fd);
process.stdout.write(`${JSON.stringify({ maxRssKiB: process.resourceUsage().maxRSS, sigBytes: sig.length })}\n`);
