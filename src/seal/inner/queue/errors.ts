/** The queue's errors, in a module of their own so callers can recognise them without loading BullMQ. */
import { SealError } from '../../../errors.js';

/** Redis could not be reached for too long: the run stops; finished jobs stay in Redis for `--resume`. */
export class QueueUnavailableError extends SealError {}

/** A job failed on its worker for good (its retries spent, or refused as invalid). */
export class QueueJobError extends SealError {}
