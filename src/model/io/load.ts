/** Open a model from any supported format: a Hugging Face directory or a llama2.c `.bin` checkpoint. */
import { stat } from 'node:fs/promises';
import { SealError } from '../../errors.js';
import { type LoadedModel, loadHfModel } from './hf.js';
import { loadLlama2c } from './llama2c.js';

export async function loadModel(path: string): Promise<LoadedModel> {
  const st = await stat(path).catch(() => undefined);
  if (st === undefined) throw new SealError('model not found', path);
  if (st.isDirectory()) return loadHfModel(path);
  if (path.endsWith('.bin')) return { model: await loadLlama2c(path), generation: {} };
  throw new SealError(
    'unrecognised model: expected a Hugging Face directory or a llama2.c .bin checkpoint',
    path,
  );
}
