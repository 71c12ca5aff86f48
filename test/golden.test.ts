/**
 * Golden output: stories260K (a real llama2.c model) must reproduce the greedy text of llama2.c's own test byte for
 * byte — through the llama2.c loader with and without the KV cache, and after conversion to a Hugging Face directory.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readSafetensorsHeader } from '../src/model/io/safetensors.js';
import { seal } from './helpers/cli.js';
import { ROOT, tempDir } from './helpers/paths.js';

// The package ships the same files (assets/), so the test runs without ../shared too.
const MODEL = join(ROOT, 'assets/models/stories260K/stories260K.bin');
const TOK = join(ROOT, 'assets/models/stories260K/tok512.bin');
// llama2.c test_all.py's reference (a copy of ../shared/data/model/stories260K_expected_greedy_200.txt, MIT).
const expected = readFileSync(join(ROOT, 'test/fixtures/stories260K_expected_greedy_200.txt'), 'utf8');

describe('stories260K golden greedy output', () => {
  it.each([
    ['with the KV cache', []],
    ['without the KV cache', ['--no-cache']],
  ])('seal generate prints exactly the reference, %s', (_, extra) => {
    const args = [
      'generate',
      '--model',
      MODEL,
      '--tokenizer',
      TOK,
      '--max-new-tokens',
      '200',
      '--temperature',
      '0',
    ];
    const r = seal([...args, ...extra]);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(expected);
  });

  it('seal convert → Hugging Face directory → same text through the HF path', async () => {
    const out = join(tempDir(), 'hf');
    const c = seal(['convert', '--from', MODEL, '--tokenizer', TOK, '--out', out]);
    expect(c.code, c.stderr).toBe(0);
    expect(readdirSync(out).sort()).toEqual([
      'config.json',
      'generation_config.json',
      'model.safetensors',
      'tokenizer.json',
      'tokenizer_config.json',
    ]);
    const config = JSON.parse(readFileSync(join(out, 'config.json'), 'utf8')) as Record<string, unknown>;
    expect(config['architectures']).toEqual(['LlamaForCausalLM']);
    expect(config).toMatchObject({
      model_type: 'llama',
      hidden_size: 64,
      num_hidden_layers: 5,
      num_attention_heads: 8,
      num_key_value_heads: 4,
      intermediate_size: 172,
      vocab_size: 512,
      tie_word_embeddings: true,
    });
    const header = await readSafetensorsHeader(join(out, 'model.safetensors'));
    const names = [...header.tensors.keys()];
    expect(names).toContain('model.embed_tokens.weight');
    expect(names).toContain('model.layers.0.self_attn.q_proj.weight');
    expect(names).toContain('model.layers.4.mlp.down_proj.weight');
    expect(names).toContain('model.norm.weight');
    expect(names).not.toContain('lm_head.weight'); // tied, as transformers saves it
    expect(header.tensors.get('model.layers.0.self_attn.k_proj.weight')?.shape).toEqual([32, 64]); // [out, in]
    expect(header.tensors.get('model.layers.0.mlp.gate_proj.weight')?.shape).toEqual([172, 64]);
    const g = seal(['generate', '--model', out, '--max-new-tokens', '200', '--temperature', '0']);
    expect(g.code, g.stderr).toBe(0);
    expect(g.stdout).toBe(expected);
  });
});
