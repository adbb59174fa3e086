/**
 * A one-line progress display for long pushes: peers, files, bytes and rate
 * on stderr, redrawn at most a few times a second. Only when stderr is a
 * terminal, no -v was given and there is a lot to push (or it takes a while);
 * a cron run or a redirected stderr never sees any of it.
 */
import { writeSync } from 'node:fs';
import type { BStr } from '../util/bytes.js';
import type { StderrGuard } from './update-output.js';

/** Show the line once this much is queued... */
const MANY_FILES = 2000;
const MANY_BYTES = 64 << 20;
/** ...or once the push has run this long. */
const SLOW_MS = 2000;
const REDRAW_MS = 200;

export interface PeerProgress {
  /** Work found for this peer (may be called again after a re-read of the dirty list). */
  addTotal(files: number, bytes: number): void;
  /** Work finished (files handled, bytes sent). */
  advance(files: number, bytes: number): void;
  finish(): void;
}

interface PeerState {
  name: BStr;
  files: number;
  totalFiles: number;
  bytes: number;
  totalBytes: number;
  active: boolean;
}

export class Progress implements StderrGuard {
  private readonly peers: PeerState[] = [];
  private readonly started = Date.now();
  private shown = false;
  private lastDraw = 0;
  private timer: NodeJS.Timeout | null = null;

  /** `fd` must be a terminal for anything to be drawn. */
  constructor(private readonly enabled: boolean, private readonly fd = 2) {}

  peer(name: BStr): PeerProgress {
    const p: PeerState = { name, files: 0, totalFiles: 0, bytes: 0, totalBytes: 0, active: true };
    this.peers.push(p);
    return {
      addTotal: (files, bytes) => {
        p.totalFiles += files;
        p.totalBytes += bytes;
        this.tick();
      },
      advance: (files, bytes) => {
        p.files += files;
        p.bytes += bytes;
        this.tick();
      },
      finish: () => {
        p.active = false;
        this.tick();
      },
    };
  }

  /** Remove the line for good. */
  close(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.beforeStderr();
  }

  beforeStderr(): void {
    if (this.shown) this.write('\r\x1b[K');
    this.shown = false;
  }

  afterStderr(): void {
    if (this.enabled && this.wanted()) this.draw();
  }

  private tick(): void {
    if (!this.enabled) return;
    const now = Date.now();
    if (now - this.lastDraw < REDRAW_MS) {
      if (!this.timer) {
        this.timer = setTimeout(() => {
          this.timer = null;
          this.tick();
        }, REDRAW_MS);
        this.timer.unref();
      }
      return;
    }
    if (this.wanted()) this.draw();
  }

  private wanted(): boolean {
    if (this.peers.every((p) => !p.active)) return false;
    if (Date.now() - this.started >= SLOW_MS) return true;
    let files = 0;
    let bytes = 0;
    for (const p of this.peers) {
      files += p.totalFiles;
      bytes += p.totalBytes;
    }
    return files >= MANY_FILES || bytes >= MANY_BYTES;
  }

  private draw(): void {
    this.lastDraw = Date.now();
    const secs = Math.max((this.lastDraw - this.started) / 1000, 0.001);
    let sent = 0;
    const parts: string[] = [];
    for (const p of this.peers) {
      sent += p.bytes;
      if (!p.active) continue;
      // The total size is known only when the caller counted it (the dirty list has no sizes).
      const bytes = p.totalBytes > 0 ? `${mb(p.bytes)}/${mb(p.totalBytes)}` : `${mb(p.bytes)} sent`;
      parts.push(`${p.name}: ${p.files}/${p.totalFiles} files, ${bytes}`);
    }
    const line = `${parts.join(' | ')}, ${mb(sent / secs)}/s`;
    const cols = process.stderr.columns || 80;
    this.write(`\r${line.length >= cols ? line.slice(0, cols - 1) : line}\x1b[K`);
    this.shown = true;
  }

  private write(text: string): void {
    try {
      writeSync(this.fd, text);
    } catch {
      /* a closed terminal is not our problem */
    }
  }
}

function mb(bytes: number): string {
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(0)} KiB`;
  return `${(bytes / (1024 * 1024)).toFixed(1)} MiB`;
}
