/** What models, generation and training need from any tokenizer. */
export interface Tokenizer {
  readonly vocabSize: number;
  /** Beginning-of-sequence id, when the tokenizer has one. */
  readonly bosId: number | undefined;
  /** End-of-sequence id, when the tokenizer has one. */
  readonly eosId: number | undefined;
  /** Encode text to ids. `addBos` prepends the BOS id (when the tokenizer has one). */
  encode(text: string, options?: { addBos?: boolean }): number[];
  /** Decode ids to text; special tokens (BOS/EOS/pad) are skipped. */
  decode(ids: readonly number[]): string;
  /**
   * Incremental decoding for streaming: the text that token `id` adds after `prev` (the previous id, or undefined
   * at the start). For byte-level tokenizers, partial UTF-8 sequences may be returned as '' until complete.
   */
  decodeStep?(prev: number | undefined, id: number): string;
}
