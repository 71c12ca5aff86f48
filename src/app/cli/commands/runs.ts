import { statSync } from 'node:fs';
import { z } from 'zod';
import { SealError } from '../../../errors.js';
import { formatRuns, listRuns } from '../../report/runs.js';
import type { Command } from '../args.js';

const schema = z.object({
  root: z.string().default('runs').describe('Directory holding run directories'),
  json: z.boolean().default(false).describe('Print a JSON array instead of a table'),
});

export const runsCommand: Command<typeof schema> = {
  name: 'runs',
  summary: 'List past runs (finished or resumable) with their headline number.',
  schema,
  positional: ['root'],
  examples: ['seal runs', 'seal runs experiments/runs --json'],
  async run(o) {
    const st = statSync(o.root, { throwIfNoEntry: false });
    if (st === undefined)
      throw new SealError('no such directory (where `seal demo|train|eval --out` wrote runs)', o.root);
    if (!st.isDirectory()) throw new SealError('expected a directory of runs, got a file', o.root);
    const runs = listRuns(o.root);
    process.stdout.write(o.json ? `${JSON.stringify(runs, null, 2)}\n` : `${formatRuns(runs)}\n`);
  },
};
