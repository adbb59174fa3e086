/**
 * The scenarios of test/server/interop-files.test.ts with the sides switched: OUR client pushing to a
 * REAL daemon, against the real client doing the same. Outcomes must be identical.
 */
import { setTwinSide } from '../server/twin.js';

setTwinSide('client');
await import('../server/interop-files.test.js');
