/**
 * p4m's point group D4: turns and mirrors (Cohen & Welling 2016, §4; GrouPy's element order).
 *
 * Element (m, r) = Mᵐ Rʳ, index e = 4·m + r, with R the quarter turn of `rot90` and M the
 * mirror of the W axis (`out[i][j] = in[i][W−1−j]`). As maps of points Rʳ acts first, then M.
 * Since M R M = R⁻¹ (every reflection conjugates a rotation to its inverse):
 *
 *   (m₁, r₁)·(m₂, r₂) = (m₁ ⊕ m₂, (−1)^m₂ · r₁ + r₂)        (mod 4)
 *
 * On a p4m map, `(g·f)(p, h) = f(g⁻¹p, g⁻¹h)`. For g = R: g⁻¹(0, r) = (0, r − 1) and
 * g⁻¹(1, r) = R⁻¹ M Rʳ = M R Rʳ = (1, r + 1), so a quarter turn turns the plane and moves
 * content r → r + 1 on unmirrored channels and r → r − 1 on mirrored ones; for g = M:
 * g⁻¹(m, r) = (1 − m, r), a mirror flips the plane and swaps the two m blocks.
 *
 * Element 4 is the horizontal flip (`/classify?flip=h`), 6 the vertical flip (`flip=v`), 5 and
 * 7 the mirrors in the two diagonals.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { checkElement, type Group, mod4, rotPlane, turnIndex } from "../group_core.ts";

/** The eight turns and mirrors, by index e = 4·m + r. */
export const P4M: Group = {
  name: "p4m",
  label: "p4m (90° turns and mirrors)",
  order: 8,
  elementNames: [
    "identity",
    "turn 90°",
    "turn 180°",
    "turn 270°",
    "flip h",
    "turn 90° + flip h",
    "flip v",
    "turn 270° + flip h",
  ],
  compose(a, b) {
    checkElement(P4M, a);
    checkElement(P4M, b);
    const [m1, r1, m2, r2] = [a >> 2, a & 3, b >> 2, b & 3];
    return 4 * (m1 ^ m2) + mod4((m2 ? -r1 : r1) + r2);
  },
  /** (0, r)⁻¹ = (0, −r); a mirror (1, r) is its own inverse. */
  inverse(e) {
    checkElement(P4M, e);
    return e >= 4 ? e : mod4(-e);
  },
  point(a, b, k, e) {
    checkElement(P4M, e);
    const [ta, tb] = turnIndex(a, b, k, e & 3);
    return e >= 4 ? [ta, k - 1 - tb] : [ta, tb];
  },
  /** Turn by r·90° counter-clockwise, then mirror axis `h + 1` if m = 1 (the operator Mᵐ Rʳ). */
  plane<T extends tf.Tensor>(x: T, e: number, h: number): T {
    checkElement(P4M, e);
    if (e < 4) return rotPlane(x, e, h);
    return tf.tidy(() => tf.reverse(rotPlane(x, e & 3, h), h + 1)) as T;
  },
};
