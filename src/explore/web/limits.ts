/**
 * The API's request bounds (src/explore/api.ts), restated for the browser: importing any value from api.ts
 * would bundle zod (≈ 460 kB minified) into every page. tests/explore/browser-url-state.test.ts checks that
 * each number here equals api.ts's.
 */

/** Longest query or test text, in characters. */
export const MAX_TEXT_CHARS = 1000;
/** Most features or families edited in one search. */
export const MAX_EDITS = 64;
/** Largest absolute slider value. */
export const MAX_EDIT_VALUE = 100;
/** Longest list name, in characters. */
export const MAX_LIST_NAME = 80;
/** Most features in a saved list. */
export const MAX_LIST_FEATURES = 200;
/** Largest feature or family id a request may name. */
export const MAX_ID = 10_000_000;
