/**
 * Character-level tokenizers as Hugging Face `tokenizer.json` files: one token per character of a fixed alphabet,
 * no merges, no pre-tokenizer, the `Fuse` decoder (tokens joined with nothing). Id 0 is the end-of-text token (also
 * used as BOS, as in the people tokenizer), id 1 `<unk>` (any character outside the alphabet), then the alphabet in
 * the order given. Grid models need this: every colour digit is its own token and no merge spans two cells, so a
 * grid's cells line up with its tokens. The file loads with `loadTokenizer` like any other tokenizer.json.
 */
import { HfTokenizer, type HfTokenizerConfig } from './hf.js';

export const CHAR_EOS = '<|endoftext|>';
export const CHAR_UNK = '<unk>';

/** The tokenizer.json object of a character-level tokenizer over `alphabet` (duplicates dropped, order kept). */
export function charTokenizerJson(alphabet: string): Record<string, unknown> {
  const chars = [...new Set(alphabet)];
  if (chars.length === 0) throw new Error('charTokenizerJson: empty alphabet');
  const vocab: Record<string, number> = { [CHAR_EOS]: 0, [CHAR_UNK]: 1 };
  for (const c of chars) {
    if (c in vocab) throw new Error(`charTokenizerJson: ${JSON.stringify(c)} clashes with a special token`);
    vocab[c] = Object.keys(vocab).length;
  }
  const special = (id: number, content: string) => ({
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
    added_tokens: [special(0, CHAR_EOS), special(1, CHAR_UNK)],
    normalizer: null,
    pre_tokenizer: null,
    post_processor: null,
    decoder: { type: 'Fuse' },
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: CHAR_UNK,
      continuing_subword_prefix: null,
      end_of_word_suffix: null,
      fuse_unk: false,
      byte_fallback: false,
      ignore_merges: false,
      vocab,
      merges: [],
    },
  };
}

/** tokenizer_config.json of a character-level tokenizer (EOS doubles as BOS). */
export function charTokenizerConfig(maxLength: number): HfTokenizerConfig {
  return {
    bos_token: CHAR_EOS,
    eos_token: CHAR_EOS,
    unk_token: CHAR_UNK,
    clean_up_tokenization_spaces: false,
    model_max_length: maxLength,
    tokenizer_class: 'PreTrainedTokenizerFast',
  };
}

/** A character-level tokenizer over `alphabet` and its tokenizer.json object (to save next to a model). */
export function charTokenizer(alphabet: string): { tok: HfTokenizer; json: Record<string, unknown> } {
  const json = charTokenizerJson(alphabet);
  const tok = new HfTokenizer(json, charTokenizerConfig(0), 'character tokenizer', { bosId: 0, eosId: 0 });
  return { tok, json };
}
