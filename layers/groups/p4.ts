/**
 * p4's point group C4: the four quarter turns, element r = Rʳ (r·90° counter-clockwise, numpy's
 * `rot90`). Composition adds turns: Rᵃ·Rᵇ = Rᵃ⁺ᵇ (mod 4), so the action on a P4 map,
 * `(g·f)(p, r) = f(g⁻¹p, r − g)`, turns the plane and rolls the rotation axis by +g (Cohen &
 * Welling 2016, §4). Any integer is taken modulo 4.
 *
 * @module
 */
import type * as tf from "@tensorflow/tfjs";
import { type Group, mod4, rotPlane, turnIndex } from "../group_core.ts";

/** The quarter turns. */
export const P4: Group = {
  name: "p4",
  label: "p4 (90° turns)",
  order: 4,
  elementNames: ["identity", "turn 90°", "turn 180°", "turn 270°"],
  compose: (a, b) => mod4(a + b),
  inverse: (e) => mod4(-e),
  point: (a, b, k, e) => turnIndex(a, b, k, e),
  plane: <T extends tf.Tensor>(x: T, e: number, h: number): T => rotPlane(x, e, h),
};
