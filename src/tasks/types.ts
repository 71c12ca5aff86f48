/** A question about a context, with every acceptable gold answer. */
export interface QuestionAnswer {
  readonly question: string;
  readonly answers: readonly string[];
  /** Optional tag, e.g. the attribute a people-world question asks about (`birth_city`). */
  readonly kind?: string;
}

/** A new document the model must incorporate, and the questions later asked about it without the document. */
export interface Context {
  readonly id: string;
  readonly title: string;
  readonly passage: string;
  readonly questions: readonly QuestionAnswer[];
  /**
   * Questions in wordings that no self-edit demonstration or reward uses: asked only by evaluation, and scored
   * apart from `questions` (never part of a reward).
   */
  readonly heldOutQuestions?: readonly QuestionAnswer[];
}

/** How a prediction is scored against the golds: per-question values in [0, 1]. */
export interface Scorer {
  readonly name: string;
  score(prediction: string, golds: readonly string[]): number;
}

/**
 * A knowledge-incorporation task: named splits of contexts and the scorer for its answers. `answerPrompt` builds
 * the no-context prompt the model answers; `answerStop` lists stop strings that end an answer.
 */
export interface Task {
  readonly name: string;
  readonly splits: Readonly<Record<string, readonly Context[]>>;
  readonly scorer: Scorer;
  answerPrompt(context: Pick<Context, 'title'>, question: QuestionAnswer): string;
  readonly answerStop: readonly string[];
}
