/** Where the changes between two trees can be read from. */
import type { Change } from './change';
import { compareTrees } from './compare';
import { overlayUpperChanges, type OverlayOptions } from './overlay-upper';

export type ChangeSource =
  /** An overlay's top directory over the layers below it (see overlay-upper.ts). */
  | { overlay: { upper: string; lowers: string[]; options: OverlayOptions } }
  /** Two whole trees, compared (see compare.ts). */
  | { trees: { lower: string; upper: string } };

/** What a user of an overlay source answers when its upper directory cannot tell the changes alone. */
export const UNTOLD = Symbol('untold');

/**
 * The changes `source` tells, read with synchronous calls; undefined when
 * an overlay's upper directory cannot tell them alone (the merged trees
 * have to be compared instead).
 */
export function sourceChanges(source: ChangeSource): Generator<Change> | undefined {
  if ('overlay' in source) return overlayUpperChanges(source.overlay.upper, source.overlay.lowers, source.overlay.options);
  return compareTrees(source.trees.lower, source.trees.upper);
}
