/**
 * import() of a module that is not part of the one-file build (chevrotain, node builtins).
 * The start-up loader (launcher/start.ts) compiles that build as a vm.Script with a V8 code
 * cache, and there node 20 has no import() of its own: a vm.Script's import() needs a callback
 * that node 20 allows only behind --experimental-vm-modules (or with a warning on stderr), and
 * loses once the script comes from a code cache. The loader hands in its own import() under
 * this key; everywhere else (the ES modules, tests) the plain import() runs.
 */
const HOOK = Symbol.for('csync2-ts.import');

type Importer = (specifier: string) => Promise<unknown>;

export function importOutside<T>(specifier: string): Promise<T> {
  const viaLoader = (globalThis as Record<symbol, Importer | undefined>)[HOOK];
  return (viaLoader ? viaLoader(specifier) : import(specifier)) as Promise<T>;
}

/** For the loader: the import() the build's code is to use. */
export function provideImport(importer: Importer): void {
  (globalThis as Record<symbol, Importer | undefined>)[HOOK] = importer;
}
