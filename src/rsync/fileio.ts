/**
 * Reading a file in large chunks with one read always in flight, so the disk
 * (or page cache copy) overlaps with hashing the previous chunk.
 */
import type { FileHandle } from 'node:fs/promises';

/** Default read size: large enough that per-read overhead vanishes, small enough for flat RSS. */
export const READ_CHUNK = 1 << 20;

/**
 * Yields the file from offset 0 to its end in chunks of up to `chunkSize` bytes.
 * Two buffers alternate: a yielded chunk is valid only until the next iteration,
 * so consumers copy whatever they keep. The handle stays open (caller closes it).
 */
export async function* readHandleChunks(fh: FileHandle, chunkSize = READ_CHUNK): AsyncGenerator<Uint8Array> {
  const buffers = [Buffer.allocUnsafeSlow(chunkSize), Buffer.allocUnsafeSlow(chunkSize)];
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
  }
}
