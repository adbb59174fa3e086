/**
 * Everything the command line decides, in one object. The CLI parses argv into
 * this and calls one mode function; modules read only what they need from it.
 */
import type { BStr } from '../util/bytes.js';

export type Mode =
  | 'hint' // -h
  | 'check' // -c
  | 'checkAndUpdate' // -c ... -u
  | 'update' // -u
  | 'simple' // -x
  | 'compare' // -o
  | 'mark' // -m
  | 'force' // -f
  | 'listHints' // -H
  | 'listFiles' // -L
  | 'listDirty' // -M
  | 'listSync' // -S me peer
  | 'test' // -T (and -TT with testAutoDiff)
  | 'removeOld' // -R
  | 'inetd' // -i
  | 'server' // -ii
  | 'single'; // -iii

export interface Options {
  mode: Mode;
  /** File (or name) arguments exactly as given, as byte strings. */
  args: BStr[];
  recursive: boolean; // -r
  dryRun: boolean; // -d
  debugLevel: number; // -v count
  syslog: boolean; // -l (implied by -i)
  timestamps: boolean; // -t
  timestampFile: string | null; // -s FILE
  dumpDirFd: number | null; // -W FD
  newForce: boolean; // -F
  noBigTransactions: boolean; // -B
  asyncDb: boolean; // -A
  initRun: boolean; // -I
  initRunWithRemovals: boolean; // -X
  initRunStraight: boolean; // -U
  testAutoDiff: boolean; // -TT
  groupList: BStr | null; // -G g1,g2
  peerList: BStr | null; // -P p1,p2
  cfgName: BStr; // -C NAME ('' = default config)
  database: BStr | null; // -D DIR-or-URL
  /** -N value or gethostname(), lower-cased, max 255 bytes. */
  hostname: BStr;
  /** -N was given: bind listener / client source address to hostname. */
  bindToHostname: boolean;
  port: string; // -p, default '30865'
  /** $CSYNC2_SYSTEM_DIR or /etc. */
  systemDir: string;
}

export const DEFAULT_PORT = '30865';
