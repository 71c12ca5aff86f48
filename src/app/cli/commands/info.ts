import { z } from 'zod';
import { initEngine } from '../../../engine/index.js';
import { packageVersion } from '../../../version.js';
import type { Command } from '../args.js';
import { BackendOption } from './common.js';

const schema = z.object({
  backend: BackendOption,
  json: z.boolean().default(false).describe('Print JSON instead of text'),
});

export const infoCommand: Command<typeof schema> = {
  name: 'info',
  summary: 'Show the engine, backend, native acceleration status and versions.',
  schema,
  async run(o) {
    const e = await initEngine(o.backend);
    const info = {
      sealTs: packageVersion(),
      backend: e.backend,
      tfjs: e.tfjsVersion,
      node: e.node,
      native: e.native,
    };
    if (o.json) {
      process.stdout.write(`${JSON.stringify(info, null, 2)}\n`);
      return;
    }
    process.stdout.write(
      [
        `seal-ts     ${info.sealTs}`,
        `engine      tfjs ${info.tfjs}`,
        `backend     ${info.backend}`,
        `native      ${info.native.available ? 'on' : 'off'} (${info.native.detail})`,
        `node        ${info.node}`,
        '',
      ].join('\n'),
    );
  },
};
