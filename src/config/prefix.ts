/**
 * `%NAME%` prefixes: the name a file has everywhere (DB, wire, listings) versus
 * its real path on this host.
 */
import type { BStr } from '../util/bytes.js';
import { FatalError } from '../util/errors.js';
import type { Config, PrefixDef } from './model.js';

/**
 * `%NAME%rest` -> PATH + rest (PATH of the first prefix, in run-time order,
 * with that name and a path on this host). A name not starting with `%` is
 * returned as is. Without a closing `%` the whole remainder is the prefix name.
 */
export function prefixSubst(cfg: Config, name: BStr): BStr {
  if (name.charCodeAt(0) !== 0x25 /* % */) return name;
  let end = name.indexOf('%', 1);
  if (end < 0) end = name.length;
  const prefixName = name.slice(1, end);
  const rest = name.slice(end < name.length ? end + 1 : end);
  for (const p of cfg.prefixes) {
    if (p.path !== null && p.name === prefixName) return p.path + rest;
  }
  throw new FatalError(`Prefix '${prefixName}' is not defined for host '${cfg.myhostname}'.`);
}

/** The prefix (run-time order, first hit) whose path equals `realPath` or contains it, or null. */
export function prefixFor(cfg: Config, realPath: BStr): PrefixDef | null {
  if (realPath.charCodeAt(0) !== 0x2f /* / */) return null;
  for (const p of cfg.prefixes) {
    if (p.path === null) continue;
    if (realPath.startsWith(p.path) && (realPath.length === p.path.length || realPath.charCodeAt(p.path.length) === 0x2f)) return p;
  }
  return null;
}

/** Real absolute path -> `%NAME%rest` when it lies in a prefix's path; anything else unchanged. */
export function prefixEncode(cfg: Config, realPath: BStr): BStr {
  const p = prefixFor(cfg, realPath);
  return p ? `%${p.name}%${realPath.slice(p.path!.length)}` : realPath;
}
