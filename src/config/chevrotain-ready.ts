/**
 * Imported first by every grammar module: in the ES-module build it holds their
 * evaluation until chevrotain is loaded (chevrotain.ts says why the CommonJS
 * bundle does without it).
 */
import { loadChevrotain } from './chevrotain.js';

await loadChevrotain();
