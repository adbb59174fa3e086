/**
 * The scenarios of test/server/interop-files.test.ts with OUR client pushing to OUR daemon, against the
 * real client and the real daemon doing the same. Outcomes must be identical.
 */
import { setTwinSide } from '../server/twin.js';

setTwinSide('both');
await import('../server/interop-files.test.js');
