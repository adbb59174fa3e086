/** flex's message when reading its input fails (e.g. the file is a directory); the CLI exits 2 on it. */
export const SCANNER_READ_FAILED = 'input in flex scanner failed';
