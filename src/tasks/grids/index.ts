/**
 * Few-shot grid puzzles (ARC-style), SEAL's second domain: the self-edit is a training recipe (recipe.ts),
 * test-time training fits a LoRA on the augmented demonstrations (augment.ts), and the reward is whether the adapted
 * model solves the held-out test input (grid.ts scoring). Data only: nothing here imports model or training code.
 */
export * from './arc.js';
export * from './augment.js';
export * from './families.js';
export * from './grid.js';
export * from './ops.js';
export * from './recipe.js';
export * from './task.js';
export * from './world.js';
