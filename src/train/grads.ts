import { type Tensor, tf, type Variable } from '../engine/tf.js';

/** acc[name] += grads[variable name] for each named variable; consumes the added tensors. */
export function addGradients(
  acc: Map<string, Tensor>,
  names: readonly string[],
  list: readonly Variable[],
  grads: Readonly<Record<string, Tensor>>,
): void {
  names.forEach((n, i) => {
    const g = grads[(list[i] as Variable).name];
    if (g === undefined) return;
    const prev = acc.get(n);
    if (prev === undefined) acc.set(n, g);
    else {
      acc.set(n, tf.add(prev, g));
      prev.dispose();
      g.dispose();
    }
  });
}
