// Placeholder entry point; the real CLI lands with the foundation issue.
process.stderr.write('csync2-ts: not built yet\n');
process.exit(1);
