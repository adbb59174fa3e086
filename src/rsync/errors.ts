/**
 * Failures of the rsync engine. They are RsyncError (src/util/errors.ts), so
 * callers need only that; `kind` tells which librsync result it corresponds to
 * (the CLI turns it into rdiff's exit code).
 */
import { RsyncError } from '../util/errors.js';

export type RsyncErrorKind =
  | 'input-ended' // RS_INPUT_ENDED: the signature/delta/basis stopped early
  | 'bad-magic' // RS_BAD_MAGIC: not a signature/delta at all
  | 'corrupt' // RS_CORRUPT: an impossible value in the stream
  | 'param'; // RS_PARAM_ERROR: a value this kind of signature cannot have

/** librsync's rs_result numbers, which rdiff uses as exit codes. */
export const RS_RESULT: Readonly<Record<RsyncErrorKind, number>> = {
  'input-ended': 103,
  'bad-magic': 104,
  corrupt: 106,
  param: 108,
};

export class RsyncStreamError extends RsyncError {
  constructor(readonly kind: RsyncErrorKind, what: string, offset: number) {
    super(`${what} at offset ${offset}`, offset);
  }
}

/** An impossible signature parameter asked for by the caller (RS_PARAM_ERROR). */
export class RsyncParamError extends RsyncError {
  readonly kind: RsyncErrorKind = 'param';
  constructor(what: string) {
    super(what, 0);
  }
}
