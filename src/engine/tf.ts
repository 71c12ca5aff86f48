/**
 * The single import point of TensorFlow.js for the whole project. Everything else imports `tf` from here, so the
 * engine (backend, kernels) can be swapped without touching model code.
 *
 * We import the full `@tensorflow/tfjs` bundle, not only tfjs-core, because tfjs-core's Node bundle registers no
 * gradient functions ("gradient function not found for Mean"); the full bundle registers them on the shared core.
 */
import * as tf from '@tensorflow/tfjs';

export { tf };
export type Tensor = tf.Tensor;
export type Tensor1D = tf.Tensor1D;
export type Tensor2D = tf.Tensor2D;
export type Tensor3D = tf.Tensor3D;
export type Tensor4D = tf.Tensor4D;
export type Variable = tf.Variable;
