/** LoRA configuration (Hu et al. 2021; PEFT's field names in adapter_config.json). */
import { z } from 'zod';
import { SealError } from '../errors.js';
import type { ModelConfig } from '../model/config.js';
import { paramSpecs } from '../model/params.js';

export const LoraConfigSchema = z.strictObject({
  r: z.number().int().min(1).max(4096).default(8).describe('LoRA rank'),
  alpha: z.number().positive().default(16).describe('LoRA alpha; the update is scaled by alpha / r'),
  dropout: z.number().min(0).max(1).default(0).describe('Dropout on the LoRA input during training'),
  targetModules: z
    .array(z.string())
    .min(1)
    .default([
      'q_proj',
      'k_proj',
      'v_proj',
      'o_proj',
      'gate_proj',
      'up_proj',
      'down_proj',
      'c_attn',
      'c_proj',
      'c_fc',
    ])
    .describe('Linear modules to adapt: names matched as suffixes (PEFT semantics), e.g. q_proj, v_proj'),
  useRslora: z.boolean().default(false).describe('Rank-stabilised scaling alpha / sqrt(r)'),
});
export type LoraConfig = z.infer<typeof LoraConfigSchema>;

export function loraScaling(c: Pick<LoraConfig, 'alpha' | 'r' | 'useRslora'>): number {
  return c.useRslora ? c.alpha / Math.sqrt(c.r) : c.alpha / c.r;
}

export interface LinearModule {
  /** e.g. `model.layers.0.self_attn.q_proj` */
  readonly name: string;
  readonly inFeatures: number;
  readonly outFeatures: number;
}

/** The model's linear modules (the LM head excluded, as PEFT excludes it by default). */
export function linearModules(c: ModelConfig): LinearModule[] {
  return paramSpecs(c)
    .filter((s) => s.kind === 'linear' && s.name !== 'lm_head.weight')
    .map((s) => ({
      name: s.name.slice(0, -'.weight'.length),
      inFeatures: s.shape[0] as number,
      outFeatures: s.shape[1] as number,
    }));
}

/** PEFT matching: a target matches a module whose name equals it or ends with `.${target}`. */
export function matchesTarget(module: string, targets: readonly string[]): boolean {
  return targets.some((t) => module === t || module.endsWith(`.${t}`));
}

/**
 * The linear modules `lora` adapts in a model of config `c`, after checking that it can: the targets must match a
 * layer, and the rank must not exceed the smaller side of any adapted matrix (a rank-r update of an m×n matrix
 * with r > min(m, n) is no update PEFT or anyone can use, and only costs memory). `field` names the option.
 */
export function loraTargets(
  c: ModelConfig,
  lora: Pick<LoraConfig, 'r' | 'targetModules'>,
  field = 'r',
): LinearModule[] {
  const targets = linearModules(c).filter((m) => matchesTarget(m.name, lora.targetModules));
  if (targets.length === 0)
    throw new SealError(
      `LoRA target modules ${JSON.stringify(lora.targetModules)} match no linear layer of the model`,
    );
  const limit = Math.min(...targets.map((m) => Math.min(m.inFeatures, m.outFeatures)));
  if (lora.r > limit)
    throw new SealError(
      `${field} ${lora.r} exceeds the smallest side of the adapted matrices (${limit}): use a rank of at most ${limit}`,
    );
  return targets;
}
