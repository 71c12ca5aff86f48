import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { buildGridReport } from '../../report/grids.js';
import { buildReport } from '../../report/html.js';
import type { Command } from '../args.js';
import { log } from './common.js';

const schema = z.object({
  runDir: z
    .string()
    .describe(
      'Run directory (with summary.json and results.jsonl), or a grid table directory (table/grids.json)',
    ),
});

export const reportCommand: Command<typeof schema> = {
  name: 'report',
  summary: 'Write RUN_DIR/report.html: one self-contained offline HTML page with the results and charts.',
  schema,
  positional: ['runDir'],
  async run(o) {
    const file = join(o.runDir, 'report.html');
    // A grid table directory (experiment:grids, demo --domain grids) has its own report.
    const grid = existsSync(join(o.runDir, 'table', 'grids.json'));
    writeFileSync(file, grid ? buildGridReport(o.runDir) : buildReport(o.runDir));
    log(`wrote ${file}`);
  },
};
