import { describe, expect, it } from 'vitest';
import * as api from '../src/index.js';

describe('public API', () => {
  it('exports the main entry points', () => {
    for (const name of [
      'initEngine',
      'loadModel',
      'loadTokenizer',
      'generate',
      'Transformer',
      'LoraAdapter',
      'saveAdapter',
      'loadAdapter',
      'trainStep',
      'runInnerLoop',
      'selfEditSequences',
      'loadSquad',
      'generateWorld',
      'exactMatchScorer',
      'runOuterLoop',
      'restEm',
      'grpo',
      'trainEditGenerator',
      'EditGenerator',
      'editToAdapter',
    ])
      expect(api, name).toHaveProperty(name);
  });
});
