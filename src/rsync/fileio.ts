/**
 * Reading a file in large chunks with one read always in flight, so the disk
 * (or page cache copy) overlaps with hashing the previous chunk.
 */
import { write as fsWrite } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import type { Writable } from 'node:stream';
import { giveBuffer, takeBuffer } from '../util/bufpool.js';

/** Default read size: large enough that per-read overhead vanishes, small enough for flat RSS. */
export const READ_CHUNK = 1 << 20;

/**
 * Yields the file from offset 0 to its end in chunks of up to `chunkSize` bytes.
 * Two buffers alternate: a yielded chunk is valid only until the next iteration
 * (and the buffers serve the next file once this one ends), so consumers copy
 * whatever they keep. The handle stays open (caller closes it).
 */
export async function* readHandleChunks(fh: FileHandle, chunkSize = READ_CHUNK): AsyncGenerator<Uint8Array> {
  const buffers = [takeBuffer(chunkSize), takeBuffer(chunkSize)];
  let position = 0;
  let current = 0;
  let inFlight = fh.read(buffers[0], 0, chunkSize, position);
  try {
    for (;;) {
      const { bytesRead } = await inFlight;
      if (bytesRead === 0) return;
      position += bytesRead;
      const ready = buffers[current];
      current ^= 1;
      inFlight = fh.read(buffers[current], 0, chunkSize, position);
      yield ready.subarray(0, bytesRead);
    }
  } finally {
    // The consumer may stop early: never leave a read running into a closed handle.
    await inFlight.catch(() => undefined);
    giveBuffer(buffers[0]!);
    giveBuffer(buffers[1]!);
  }
}

/** Where deltas and signatures are written: a file descriptor (at its current offset) or a stream. */
export type DeltaSink = number | Writable;

/** Drains `parts` into an fd or a Writable, respecting the stream's backpressure. */
export async function writeAll(parts: AsyncIterable<Uint8Array> | Iterable<Uint8Array>, out: DeltaSink): Promise<void> {
  if (typeof out === 'number') {
    for await (const part of parts) {
      for (let off = 0; off < part.length;) {
        off += await new Promise<number>((resolve, reject) => {
          fsWrite(out, part, off, part.length - off, null, (err, n) => (err ? reject(err) : resolve(n)));
        });
      }
    }
    return;
  }
  for await (const part of parts) {
    if (!out.write(part)) {
      await new Promise<void>((resolve, reject) => {
        const onDrain = (): void => { out.off('error', onError); resolve(); };
        const onError = (err: Error): void => { out.off('drain', onDrain); reject(err); };
        out.once('drain', onDrain);
        out.once('error', onError);
      });
    }
  }
}
