/**
 * The trivial group {e}: translations only, which convolution and pooling already respect.
 * A Z2-map is an ordinary feature map (one channel per filter); the baseline's group.
 *
 * @module
 */
import type * as tf from "@tensorflow/tfjs";
import { checkElement, type Group } from "../group_core.ts";

/** The identity alone. */
export const Z2: Group = {
  name: "z2",
  label: "Z2 (translations)",
  order: 1,
  elementNames: ["identity"],
  compose(a, b) {
    checkElement(Z2, a);
    checkElement(Z2, b);
    return 0;
  },
  inverse(e) {
    checkElement(Z2, e);
    return 0;
  },
  point: (a, b) => [a, b],
  plane: <T extends tf.Tensor>(x: T, e: number): T => {
    checkElement(Z2, e);
    return x.clone() as T;
  },
};
