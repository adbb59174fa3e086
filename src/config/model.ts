/**
 * The parsed csync2.cfg, already resolved for this host. Lists are kept in the
 * order csync2 uses them at run time (config.md §5): groups, action blocks,
 * prefixes and nossl entries REVERSE of declaration; hosts and patterns in
 * declaration order. All names, paths and patterns are byte strings.
 */
import type { BStr } from '../util/bytes.js';

export type AutoMethod = 'none' | 'first' | 'younger' | 'older' | 'bigger' | 'smaller' | 'left' | 'right';

export interface PatternEntry {
  /** Pattern text, trailing slashes stripped (a lone `/` stays). */
  pattern: BStr;
  kind: 'include' | 'exclude' | 'compare';
  /** Pattern contains `**`: every `*` may match `/` (no FNM_PATHNAME). */
  starMatchesSlashes: boolean;
  /** First char `/` or `%`: matched against the whole path with FNM_LEADING_DIR; else against the basename. */
  pathname: boolean;
}

/** A peer in a group's host list (the local host is never in this list). */
export interface HostEntry {
  /** Name used to connect, in HELLO, dirty.peername and x509_cert: the `@iface` part if given. Lower-cased. */
  name: BStr;
  /** Written inside parentheses: only receives. */
  slave: boolean;
  /** Written before the local host's own entry in this group (for `auto left/right`). */
  leftSide: boolean;
}

export interface ActionBlock {
  /** Reverse of declaration (csync2 prepends). Empty = every file of the group. */
  patterns: BStr[];
  /** Reverse of declaration. */
  commands: BStr[];
  /** Default `/dev/null`. */
  logfile: BStr;
  doLocal: boolean;
  /** Implies doLocal. */
  doLocalOnly: boolean;
}

export interface Group {
  /** Declared name, or `group_<n>` for unnamed groups (counter over unnamed groups in file order). */
  name: BStr;
  key: BStr;
  /** Absolute path of the key file (relative names resolved against the system dir). */
  keyFile: string;
  /** This host's name in the group (iface part if given), or null if this host is not listed. */
  myname: BStr | null;
  /** This host is listed inside parentheses (a slave) in this group. */
  localIsSlave: boolean;
  /** Peers in declaration order. */
  hosts: HostEntry[];
  /** Declaration order. */
  patterns: PatternEntry[];
  auto: AutoMethod;
  backupDirectory: BStr | null;
  /** Default 3. */
  backupGenerations: number;
  /** Reverse of declaration. */
  actions: ActionBlock[];
  /** Listed this host AND not disabled by -G (or a GROUP command later). Inactive groups are ignored everywhere. */
  active: boolean;
  /** Without -P always true; with -P: some host name equals a -P item (exact). Only used in compare mode. */
  hasActivePeers: boolean;
  /** Where it was declared, for messages. */
  file: string;
  line: number;
}

export interface PrefixDef {
  name: BStr;
  /** PATH of the first `on` entry whose host pattern fnmatches the local hostname; null if none. */
  path: BStr | null;
}

export interface NosslEntry {
  from: BStr;
  to: BStr;
}

export interface Config {
  /** The main config file path. */
  file: string;
  /** Lower-cased local hostname used to resolve `host` entries and prefixes. */
  myhostname: BStr;
  /** Reverse of declaration (last declared first). */
  groups: Group[];
  /** Reverse of declaration. */
  prefixes: PrefixDef[];
  /** Reverse of declaration. */
  nossl: NosslEntry[];
  ignoreUid: boolean;
  ignoreGid: boolean;
  ignoreMod: boolean;
  tempdir: BStr | null;
  /** Default 12. */
  lockTimeout: number;
  /** Root-level `database` statement (used when -D is not given). */
  database: BStr | null;
}
