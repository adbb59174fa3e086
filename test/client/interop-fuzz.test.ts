/**
 * The random scenarios of test/server/twin-fuzz.test.ts with OUR client pushing to a REAL daemon (and the
 * pushes back: the real client to our daemon), against real csync2 on both hosts.
 */
import { setTwinSide } from '../server/twin.js';

setTwinSide('client');
await import('../server/twin-fuzz.test.js');
