/**
 * Typed errors. Modules throw these; only src/cli decides what is printed and
 * which exit code follows. `message` is always the exact first line csync2 would
 * print (a byte string, without the trailing newline); `detail` is our extra
 * explanation (where and what), printed as a second line when present.
 */
import type { BStr } from './bytes.js';

export class CsyncError extends Error {
  constructor(message: BStr, readonly detail?: string) {
    super(message);
    this.name = new.target.name;
  }
}

/** Ends the run like csync_fatal(): message at level 0, exit 1. */
export class FatalError extends CsyncError {}

/** A problem in csync2.cfg (or an included file, or a key file it names). */
export class ConfigError extends FatalError {
  constructor(message: BStr, readonly file?: string, readonly line?: number,
    readonly column?: number, detail?: string) {
    super(message, detail);
  }
}

/** The database could not be opened or a statement failed. */
export class DbError extends FatalError {}

/** Bad command line: the CLI prints the help text and exits 1. */
export class UsageError extends CsyncError {}

/** The peer broke the protocol (bad frame, over-long line, unexpected EOF). */
export class ProtocolError extends CsyncError {
  constructor(message: BStr, readonly peer?: BStr, readonly command?: BStr, detail?: string) {
    super(message, detail);
  }
}

/** Identification, key or certificate refused. */
export class AuthError extends CsyncError {}

/** A librsync signature or delta is malformed; `offset` is where in its stream. */
export class RsyncError extends CsyncError {
  constructor(message: string, readonly offset: number) {
    super(message);
  }
}

/** An OS error text as glibc's strerror() prints it (what csync2 sends on the wire). */
export function strerror(err: unknown): string {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  if (code && code in STRERROR) return STRERROR[code]!;
  if (err instanceof Error) return err.message;
  return String(err);
}

const STRERROR: Record<string, string> = {
  EPERM: 'Operation not permitted',
  ENOENT: 'No such file or directory',
  ESRCH: 'No such process',
  EINTR: 'Interrupted system call',
  EIO: 'Input/output error',
  ENXIO: 'No such device or address',
  E2BIG: 'Argument list too long',
  EBADF: 'Bad file descriptor',
  EAGAIN: 'Resource temporarily unavailable',
  ENOMEM: 'Cannot allocate memory',
  EACCES: 'Permission denied',
  EFAULT: 'Bad address',
  EBUSY: 'Device or resource busy',
  EEXIST: 'File exists',
  EXDEV: 'Invalid cross-device link',
  ENODEV: 'No such device',
  ENOTDIR: 'Not a directory',
  EISDIR: 'Is a directory',
  EINVAL: 'Invalid argument',
  ENFILE: 'Too many open files in system',
  EMFILE: 'Too many open files',
  ETXTBSY: 'Text file busy',
  EFBIG: 'File too large',
  ENOSPC: 'No space left on device',
  ESPIPE: 'Illegal seek',
  EROFS: 'Read-only file system',
  EMLINK: 'Too many links',
  EPIPE: 'Broken pipe',
  ENAMETOOLONG: 'File name too long',
  ENOTEMPTY: 'Directory not empty',
  ELOOP: 'Too many levels of symbolic links',
  EDQUOT: 'Disk quota exceeded',
  ECONNREFUSED: 'Connection refused',
  ECONNRESET: 'Connection reset by peer',
  ETIMEDOUT: 'Connection timed out',
  EHOSTUNREACH: 'No route to host',
  ENETUNREACH: 'Network is unreachable',
  EADDRINUSE: 'Address already in use',
  EADDRNOTAVAIL: 'Cannot assign requested address',
  ENOTSOCK: 'Socket operation on non-socket',
  ENOTSUP: 'Operation not supported',
  EOPNOTSUPP: 'Operation not supported',
  // Less common, but met on clusters (NFS, damaged or full file systems, flaky networks).
  ESTALE: 'Stale file handle',
  ENOTTY: 'Inappropriate ioctl for device',
  EOVERFLOW: 'Value too large for defined data type',
  EILSEQ: 'Invalid or incomplete multibyte or wide character',
  ENODATA: 'No data available',
  EUCLEAN: 'Structure needs cleaning',
  ENOLCK: 'No locks available',
  ECANCELED: 'Operation canceled',
  EBADMSG: 'Bad message',
  ENOSYS: 'Function not implemented',
  ECHILD: 'No child processes',
  EDEADLK: 'Resource deadlock avoided',
  ERANGE: 'Numerical result out of range',
  ENOBUFS: 'No buffer space available',
  EPROTO: 'Protocol error',
  EHOSTDOWN: 'Host is down',
  ENETDOWN: 'Network is down',
  ECONNABORTED: 'Software caused connection abort',
  ENOTCONN: 'Transport endpoint is not connected',
  EAFNOSUPPORT: 'Address family not supported by protocol',
  EREMOTEIO: 'Remote I/O error',
  ENOMEDIUM: 'No medium found',
  ENOTBLK: 'Block device required',
};

/** The errno names strerror() knows, with glibc's texts (a test checks them against the system's). */
export const STRERROR_TEXTS: Readonly<Record<string, string>> = STRERROR;
