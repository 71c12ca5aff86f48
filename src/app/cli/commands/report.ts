import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { buildReport } from '../../report/html.js';
import type { Command } from '../args.js';
import { log } from './common.js';

const schema = z.object({
  runDir: z.string().describe('Run directory (with summary.json and results.jsonl)'),
});

export const reportCommand: Command<typeof schema> = {
  name: 'report',
  summary: 'Write RUN_DIR/report.html: one self-contained offline HTML page with the results and charts.',
  schema,
  positional: ['runDir'],
  async run(o) {
    const file = join(o.runDir, 'report.html');
    writeFileSync(file, buildReport(o.runDir));
    log(`wrote ${file}`);
  },
};
