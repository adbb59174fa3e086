/**
 * The random scenarios of test/server/twin-fuzz.test.ts with csync2-ts on both hosts, against real csync2
 * on both hosts.
 */
import { setTwinSide } from '../server/twin.js';

setTwinSide('both');
await import('../server/twin-fuzz.test.js');
