/**
 * A llama2.c tokenizer (SentencePiece BPE exported with scores) as a Hugging Face `tokenizer.json` in the layout
 * transformers uses for Llama (byte fallback, "▁" for spaces, a prepended "▁"). Merges are derived from the scores
 * the way transformers' SentencePieceExtractor does: every split of a piece into two vocabulary pieces, ordered by
 * the merged piece's score, best first — so BPE by merge rank picks the same pair as llama2.c's best-score loop.
 */
import type { Llama2cTokenizerData } from './llama2c.js';

const SPACE = '\u2581';

function pieceText(binary: string): string {
  if (/^<0x[0-9A-Fa-f]{2}>$/.test(binary)) return binary;
  return Buffer.from(binary, 'latin1').toString('utf8').replaceAll(' ', SPACE);
}

export function llama2cToTokenizerJson(data: Llama2cTokenizerData): Record<string, unknown> {
  const pieces = data.pieces.map(pieceText);
  const vocab: Record<string, number> = {};
  pieces.forEach((p, id) => {
    if (!(p in vocab)) vocab[p] = id;
  });
  const special = new Set([0, 1, 2]);
  const merges: { l: string; r: string; score: number; order: [number, number] }[] = [];
  pieces.forEach((p, id) => {
    if (special.has(id) || p.startsWith('<0x')) return;
    const chars = Array.from(p);
    for (let k = 1; k < chars.length; k++) {
      const l = chars.slice(0, k).join('');
      const r = chars.slice(k).join('');
      const li = vocab[l];
      const ri = vocab[r];
      if (li !== undefined && ri !== undefined && !special.has(li) && !special.has(ri))
        merges.push({ l, r, score: data.scores[id] as number, order: [li, ri] });
    }
  });
  merges.sort((a, b) => b.score - a.score || a.order[0] - b.order[0] || a.order[1] - b.order[1]);
  const added = (id: number, content: string) => ({
    id,
    content,
    single_word: false,
    lstrip: false,
    rstrip: false,
    normalized: false,
    special: true,
  });
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: [added(0, '<unk>'), added(1, '<s>'), added(2, '</s>')],
    normalizer: {
      type: 'Sequence',
      normalizers: [
        { type: 'Prepend', prepend: SPACE },
        { type: 'Replace', pattern: { String: ' ' }, content: SPACE },
      ],
    },
    pre_tokenizer: null,
    post_processor: {
      type: 'TemplateProcessing',
      single: [{ SpecialToken: { id: '<s>', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }],
      pair: [
        { SpecialToken: { id: '<s>', type_id: 0 } },
        { Sequence: { id: 'A', type_id: 0 } },
        { SpecialToken: { id: '<s>', type_id: 1 } },
        { Sequence: { id: 'B', type_id: 1 } },
      ],
      special_tokens: { '<s>': { id: '<s>', ids: [1], tokens: ['<s>'] } },
    },
    decoder: {
      type: 'Sequence',
      decoders: [
        { type: 'Replace', pattern: { String: SPACE }, content: ' ' },
        { type: 'ByteFallback' },
        { type: 'Fuse' },
        { type: 'Strip', content: ' ', start: 1, stop: 0 },
      ],
    },
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: '<unk>',
      continuing_subword_prefix: null,
      end_of_word_suffix: null,
      fuse_unk: true,
      byte_fallback: true,
      ignore_merges: false,
      vocab,
      merges: merges.map((m) => [m.l, m.r]),
    },
  };
}

/** tokenizer_config.json for the same tokenizer (transformers reads BOS/EOS from here). */
export function llama2cTokenizerConfig(): Record<string, unknown> {
  return {
    tokenizer_class: 'LlamaTokenizerFast',
    bos_token: '<s>',
    eos_token: '</s>',
    unk_token: '<unk>',
    add_bos_token: true,
    add_eos_token: false,
    legacy: true,
    model_max_length: 512,
    clean_up_tokenization_spaces: false,
  };
}
