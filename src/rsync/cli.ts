/**
 * csync2-rdiff: our engine behind rdiff's command line, for tests, benchmarks and
 * admins.
 *
 *   csync2-rdiff [OPTIONS] signature [BASIS [SIGNATURE]]
 *   csync2-rdiff [OPTIONS] delta SIGNATURE [NEWFILE [DELTA]]
 *   csync2-rdiff [OPTIONS] patch BASIS [DELTA [NEWFILE]]
 *
 * Same options, defaults and exit codes as rdiff (librsync 2.3): BLAKE2 +
 * RabinKarp and a block size chosen from the file size unless -H/-R/-b say
 * otherwise; a missing file name or "-" is stdin/stdout; an existing output is
 * refused without -f. Unlike rdiff, a named output file is written to a temp
 * file beside it and renamed only on success.
 */
import { closeSync, fstatSync, openSync, renameSync, statSync, unlinkSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { RsyncError } from '../util/errors.js';
import { RS_RESULT, type RsyncErrorKind } from './errors.js';
import type { StrongHash, WeakSum } from './format.js';
import type { PatchSink } from './patch.js';
import type { DeltaStats } from './stats.js';

// Each action imports only the modules it needs (see main): startup time is most
// of a small run.

const RS_IO_ERROR = 100;
const RS_SYNTAX_ERROR = 101;
const RS_UNIMPLEMENTED = 105;

const HELP = `Usage: csync2-rdiff [OPTIONS] signature [BASIS [SIGNATURE]]
                    [OPTIONS] delta SIGNATURE [NEWFILE [DELTA]]
                    [OPTIONS] patch BASIS [DELTA [NEWFILE]]

Options:
  -v, --verbose             Trace internal processing (accepted, no effect)
  -V, --version             Show program version
  -?, --help                Show this help message
  -s, --statistics          Show performance statistics
  -f, --force               Force overwriting existing files
Signature generation options:
  -H, --hash=ALG            Hash algorithm: blake2 (default), md4
  -R, --rollsum=ALG         Rollsum algorithm: rabinkarp (default), rollsum
Delta-encoding options:
  -b, --block-size=BYTES    Signature block size, 0 (default) for recommended
  -S, --sum-size=BYTES      Signature strength, 0 (default) for max, -1 for min
IO options:
  -I, --input-size=BYTES    Input buffer size (accepted, no effect)
  -O, --output-size=BYTES   Output buffer size (accepted, no effect)
`;

class ExitError extends Error {
  constructor(message: string, readonly code: number) {
    super(message);
  }
}

interface Args {
  force: boolean;
  stats: boolean;
  hash: string;
  rollsum: string;
  blockLen: number;
  strongLen: number;
  rest: string[];
}

const WITH_VALUE: Record<string, string> = {
  H: 'hash', R: 'rollsum', b: 'block-size', S: 'sum-size', I: 'input-size', O: 'output-size',
};

function parseArgs(argv: string[]): Args | 'done' {
  const args: Args = { force: false, stats: false, hash: 'blake2', rollsum: 'rabinkarp', blockLen: 0, strongLen: 0, rest: [] };
  const set = (name: string, value: string | undefined): void => {
    if (value === undefined) throw usage(`--${name}: missing argument`);
    const number = (): number => {
      if (!/^[+-]?\d+$/.test(value)) throw usage(`--${name}: bad numeric value: ${value}`);
      return Number(value);
    };
    if (name === 'hash') args.hash = value;
    else if (name === 'rollsum') args.rollsum = value;
    else if (name === 'block-size') args.blockLen = number();
    else if (name === 'sum-size') args.strongLen = number();
    else number(); // -I / -O: checked, then ignored
  };
  const flag = (name: string): 'done' | void => {
    switch (name) {
      case 'f': case 'force': args.force = true; return;
      case 's': case 'statistics': case 'stats': args.stats = true; return;
      case 'v': case 'verbose': return;
      case 'V': case 'version': process.stdout.write('csync2-rdiff (csync2-ts, librsync 2.3 format)\n'); return 'done';
      case '?': case 'h': case 'help': process.stdout.write(HELP); return 'done';
      case 'z': case 'gzip': case 'i': case 'bzip2':
        throw new ExitError('Sorry, compression is not implemented yet.', RS_UNIMPLEMENTED);
      default: throw usage(`unknown option: ${name.length === 1 ? '-' : '--'}${name}`);
    }
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--') { args.rest.push(...argv.slice(i + 1)); break; }
    if (a.startsWith('--')) {
      const eq = a.indexOf('=');
      const name = eq < 0 ? a.slice(2) : a.slice(2, eq);
      if (Object.values(WITH_VALUE).includes(name)) set(name, eq < 0 ? argv[++i] : a.slice(eq + 1));
      else if (flag(name) === 'done') return 'done';
    } else if (a.startsWith('-') && a.length > 1) {
      for (let k = 1; k < a.length; k++) {
        const c = a[k];
        if (c in WITH_VALUE) {
          set(WITH_VALUE[c], k + 1 < a.length ? a.slice(k + 1) : argv[++i]);
          break;
        }
        if (flag(c) === 'done') return 'done';
      }
    } else {
      args.rest.push(a);
    }
  }
  return args;
}

function usage(message: string): ExitError {
  return new ExitError(`${message}\n\nTry \`csync2-rdiff --help' for more information.`, RS_SYNTAX_ERROR);
}

/** An input named on the command line: "-" or missing = stdin. */
function inputPath(name: string | undefined): string | null {
  return name === undefined || name === '-' ? null : name;
}

/** An output file: written to a temp file beside it, renamed by commit(). */
class Output {
  readonly sink: PatchSink;
  private readonly temp: string | null;

  constructor(private readonly name: string | undefined, force: boolean) {
    if (name === undefined || name === '-') {
      this.sink = process.stdout;
      this.temp = null;
      return;
    }
    if (!force) {
      let exists = true;
      try { closeSync(openSync(name, 'r')); } catch { exists = false; }
      if (exists) throw new ExitError(`File exists "${name}", aborting!`, RS_IO_ERROR);
    }
    this.temp = join(dirname(name), `.${basename(name)}.${process.pid}.tmp`);
    try {
      this.sink = openSync(this.temp, 'wx', 0o666);
    } catch (err) {
      throw new ExitError(`Error opening "${name}" for write: ${(err as Error).message}`, RS_IO_ERROR);
    }
  }

  async commit(): Promise<void> {
    if (typeof this.sink === 'number') {
      closeSync(this.sink);
      renameSync(this.temp!, this.name!);
    } else {
      await new Promise<void>((resolve) => this.sink === process.stdout ? process.stdout.write('', () => resolve()) : resolve());
    }
  }

  discard(): void {
    if (typeof this.sink === 'number') {
      try { closeSync(this.sink); } catch { /* already closed */ }
      try { unlinkSync(this.temp!); } catch { /* never created */ }
    }
  }
}

async function* readInput(path: string | null): AsyncGenerator<Uint8Array> {
  if (path === null) {
    yield* process.stdin as AsyncIterable<Buffer>;
    return;
  }
  const { open } = await import('node:fs/promises');
  const { readHandleChunks } = await import('./fileio.js');
  let fh;
  try {
    fh = await open(path, 'r');
  } catch (err) {
    throw new ExitError(`Error opening "${path}" for read: ${(err as Error).message}`, RS_IO_ERROR);
  }
  try {
    // Chunk buffers are reused: every consumer here copies what it keeps.
    yield* readHandleChunks(fh);
  } finally {
    await fh.close();
  }
}

/** The input's size if it is a regular file (as rs_file_size), else -1 (unknown). */
function sizeOf(path: string | null): number {
  try {
    const st = path === null ? fstatSync(0) : statSync(path);
    return st.isFile() ? st.size : -1;
  } catch {
    return -1;
  }
}

async function collect(input: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const part of input) parts.push(Buffer.from(part));
  return Buffer.concat(parts);
}

function printStats(op: string, stats: DeltaStats | null, sigBlocks: number, blockLen: number): void {
  let line = `${op} statistics: `;
  if (stats && stats.literalCommands) {
    line += `literal[${stats.literalCommands} cmds, ${stats.literalBytes} bytes, ${stats.literalCommandBytes} cmdbytes] `;
  }
  if (stats && stats.copyCommands) {
    line += `copy[${stats.copyCommands} cmds, ${stats.copyBytes} bytes, ${stats.copyCommandBytes} cmdbytes, 0 false]`;
  }
  if (sigBlocks) line += `signature[${sigBlocks} blocks, ${blockLen} bytes per block]`;
  process.stderr.write(`${line}\n`);
}

async function signature(args: Args): Promise<void> {
  const [basisName, sigName, extra] = args.rest;
  if (extra !== undefined) throw usage('Too many arguments.');
  if (args.hash !== 'blake2' && args.hash !== 'md4') throw usage(`Unknown hash algorithm '${args.hash}'.`);
  if (args.rollsum !== 'rabinkarp' && args.rollsum !== 'rollsum') throw usage(`Unknown rollsum algorithm '${args.rollsum}'.`);
  const basis = inputPath(basisName);
  const { resolveSigParams } = await import('./sigparams.js');
  const { SignatureBuilder, signatureOfFile } = await import('./sigbuild.js');
  const { writeAll } = await import('./fileio.js');
  const opts = { hash: args.hash as StrongHash, weak: args.rollsum as WeakSum, blockLen: args.blockLen, strongLen: args.strongLen };
  const params = resolveSigParams(opts, sizeOf(basis)); // bad parameters fail before any output exists
  const output = new Output(sigName, args.force);
  try {
    // The signature is small: computed whole, then written, so hashing never waits for output.
    let sig: Buffer;
    if (basis !== null) {
      try {
        sig = await signatureOfFile(basis, opts);
      } catch (err) {
        if (err instanceof RsyncError) throw err;
        throw new ExitError(`Error opening "${basis}" for read: ${(err as Error).message}`, RS_IO_ERROR);
      }
    } else {
      const builder = new SignatureBuilder(params);
      const parts: Buffer[] = [builder.header()];
      for await (const chunk of readInput(null)) parts.push(builder.update(chunk));
      parts.push(builder.final());
      sig = Buffer.concat(parts);
    }
    await writeAll([sig], output.sink);
    await output.commit();
    if (args.stats) printStats('signature', null, (sig.length - 12) / (4 + params.strongLen), params.blockLen);
  } catch (err) {
    output.discard();
    throw err;
  }
}

async function delta(args: Args): Promise<void> {
  const [sigName, newName, deltaName, extra] = args.rest;
  if (sigName === undefined) throw usage('Usage for delta: csync2-rdiff [OPTIONS] delta SIGNATURE [NEWFILE [DELTA]]');
  if (extra !== undefined) throw usage('Too many arguments.');
  const { parseSignature } = await import('./sigload.js');
  const { DeltaEncoder } = await import('./delta.js');
  const { writeAll } = await import('./fileio.js');
  const sig = parseSignature(await collect(readInput(inputPath(sigName))));
  const output = new Output(deltaName, args.force);
  try {
    const stats: { value: DeltaStats | null } = { value: null };
    async function* run(): AsyncGenerator<Uint8Array> {
      const encoder = new DeltaEncoder(sig);
      for await (const chunk of readInput(inputPath(newName))) yield* encoder.write(chunk);
      yield* encoder.end();
      stats.value = encoder.stats;
    }
    await writeAll(run(), output.sink);
    await output.commit();
    if (args.stats) printStats('delta', stats.value, sig.count, sig.blockLen);
  } catch (err) {
    output.discard();
    throw err;
  }
}

async function patch(args: Args): Promise<void> {
  const [basisName, deltaName, newName, extra] = args.rest;
  if (basisName === undefined) throw usage('Usage for patch: csync2-rdiff [OPTIONS] patch BASIS [DELTA [NEW]]');
  if (extra !== undefined) throw usage('Too many arguments.');
  if (basisName === '-') throw new ExitError('the basis must be a file, not stdin', RS_IO_ERROR);
  try {
    closeSync(openSync(basisName, 'r'));
  } catch (err) {
    throw new ExitError(`Error opening "${basisName}" for read: ${(err as Error).message}`, RS_IO_ERROR);
  }
  const { patchToFile } = await import('./patch.js');
  const output = new Output(newName, args.force);
  try {
    const stats = await patchToFile(basisName, readInput(inputPath(deltaName)), output.sink);
    await output.commit();
    if (args.stats) printStats('patch', stats, 0, 0);
  } catch (err) {
    output.discard();
    throw err;
  }
}

export async function main(argv: string[]): Promise<number> {
  try {
    const args = parseArgs(argv);
    if (args === 'done') return 0;
    const action = args.rest.shift();
    if (action !== undefined && action !== '' && 'signature'.startsWith(action)) await signature(args);
    else if (action !== undefined && action !== '' && 'delta'.startsWith(action)) await delta(args);
    else if (action !== undefined && action !== '' && 'patch'.startsWith(action)) await patch(args);
    else throw usage("You must specify an action: `signature', `delta', or `patch'.");
    return 0;
  } catch (err) {
    if (err instanceof ExitError) {
      process.stderr.write(`csync2-rdiff: ${err.message}\n`);
      return err.code;
    }
    if (err instanceof RsyncError) {
      process.stderr.write(`csync2-rdiff: Failed, ${err.message}.\n`);
      const kind = (err as RsyncError & { kind?: RsyncErrorKind }).kind;
      return kind ? RS_RESULT[kind] : RS_RESULT.corrupt;
    }
    const e = err as NodeJS.ErrnoException;
    process.stderr.write(`csync2-rdiff: Failed, ${e?.message ?? String(err)}.\n`);
    return RS_IO_ERROR;
  }
}

main(process.argv.slice(2)).then((code) => { process.exitCode = code; });
