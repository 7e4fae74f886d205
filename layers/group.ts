/**
 * The groups symlab's layers are built for, and everything derived from a {@linkcode Group}
 * (layers/group_core.ts): its action on images and on G-maps, and the filter banks of the
 * lifting and group convolutions ("transform the filter bank, then one ordinary conv2d",
 * docs/design.md). Layers, models, eval and bench read groups from {@linkcode GROUPS}.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { type Group, permuteLast } from "./group_core.ts";
import { P4 } from "./groups/p4.ts";
import { P4M } from "./groups/p4m.ts";
import { Z2 } from "./groups/z2.ts";

export type { Group } from "./group_core.ts";
export { mod4, permuteLast, rollLast, rot90, rotPlane } from "./group_core.ts";
export { P4, P4M, Z2 };

/** The registry: one line per group (docs/design.md, "Adding a group"). */
export const GROUPS = {
  z2: Z2,
  p4: P4,
  p4m: P4M,
} as const satisfies Record<string, Group>;
export type GroupName = keyof typeof GROUPS;

/** The registered group called `name`, or a range error naming the registered ones. */
export function groupNamed(name: string): Group {
  if (!Object.hasOwn(GROUPS, name)) {
    throw new RangeError(
      `Expected a group, one of ${Object.keys(GROUPS).join(", ")}, got "${name}"`,
    );
  }
  return GROUPS[name as GroupName];
}

/** Element e of `group` acting on a batch of NHWC images (the plane of axes 1, 2). */
export function actImage(group: Group, x: tf.Tensor4D, e: number): tf.Tensor4D {
  return group.plane(x, e, 1);
}

/**
 * Element g of `group` acting on a G-map [N, H, W, C·|G|]: `(g·f)(p, h) = f(g⁻¹p, g⁻¹h)` —
 * move the plane by g, and fill element slot h from slot g⁻¹h. Used by tests to state
 * equivariance as `Φ(g·x) = g·Φ(x)`.
 */
export function actMap(group: Group, x: tf.Tensor4D, g: number): tf.Tensor4D {
  const gi = group.inverse(g);
  const source = Array.from({ length: group.order }, (_, h) => group.compose(gi, h));
  return tf.tidy(() => {
    const moved = actImage(group, x, g);
    const [n, h2, w2, c] = moved.shape;
    const split = moved.reshape([n, h2, w2, c / group.order, group.order]);
    return permuteLast(split, source).reshape([n, h2, w2, c]);
  });
}

/** The P4 action on a P4 map [N, H, W, C·4]: `(g·f)(p, r) = f(g⁻¹p, r − g)`. */
export function rotP4(x: tf.Tensor4D, k: number): tf.Tensor4D {
  return actMap(P4, x, k);
}

/** The p4m action on a p4m map [N, H, W, C·8]: `(g·f)(p, h) = f(g⁻¹p, g⁻¹h)`. */
export function actP4m(x: tf.Tensor4D, g: number): tf.Tensor4D {
  return actMap(P4M, x, g);
}

/** D4 element e = 4·m + r on NHWC images: turn by r·90°, then mirror left-right if m = 1. */
export function d4Image(x: tf.Tensor4D, e: number): tf.Tensor4D {
  return actImage(P4M, x, e);
}

/**
 * A filter bank as a fixed re-indexing of a learned kernel: every bank entry is one kernel
 * entry, and every kernel entry appears once per output element (|G| times). `source[i]`
 * is the kernel position of bank position i; `targets[e·K + j]` the bank position of kernel
 * entry j for output element e.
 */
interface BankIndex {
  source: Int32Array;
  targets: Int32Array;
  kernelSize: number;
  /** Output group elements: each kernel entry appears this often. */
  copies: number;
  bankShape: [number, number, number, number];
}

const bankIndexCache = new Map<string, BankIndex>();

/**
 * Index of the lifting bank (`inOrder` = 1: kernel [k, k, Cin, Cout]) or the group bank
 * (`inOrder` = |G|: kernel [k, k, Cin, |G|, Cout]) -> bank [k, k, Cin·inOrder, Cout·|G|]:
 * for output element e, `bank[e·q, c·inOrder + e·j, o·|G| + e] = w[q, c, j, o]`, i.e.
 * `ψ_e(q, c, j) = ψ(e⁻¹q, c, e⁻¹j)` (Cohen & Welling 2016, eq. 10–11). For p4 that turns the
 * filter by r and rolls its input-rotation axis by r; for p4m it also mirrors.
 */
function bankIndex(group: Group, k: number, cin: number, cout: number, inOrder: number) {
  const key = `${group.name}/${k}/${cin}/${cout}/${inOrder}`;
  const cached = bankIndexCache.get(key);
  if (cached) return cached;
  const order = group.order;
  const ci = cin * inOrder;
  const size = k * k * cin * inOrder * cout;
  const source = new Int32Array(size * order);
  const targets = new Int32Array(size * order);
  for (let a = 0; a < k; a++) {
    for (let b = 0; b < k; b++) {
      for (let c = 0; c < cin; c++) {
        for (let j = 0; j < inOrder; j++) {
          for (let o = 0; o < cout; o++) {
            for (let e = 0; e < order; e++) {
              const [ta, tb] = group.point(a, b, k, e);
              const slot = inOrder === 1 ? 0 : group.compose(e, j); // holds w[..., j, ...]
              const bankPos = ((ta * k + tb) * ci + c * inOrder + slot) * cout * order +
                o * order + e;
              const kernelPos = (((a * k + b) * cin + c) * inOrder + j) * cout + o;
              source[bankPos] = kernelPos;
              targets[e * size + kernelPos] = bankPos;
            }
          }
        }
      }
    }
  }
  const index: BankIndex = {
    source,
    targets,
    kernelSize: size,
    copies: order,
    bankShape: [k, k, ci, cout * order],
  };
  bankIndexCache.set(key, index);
  return index;
}

/**
 * Builds the bank with one gather; its gradient is one gather per output element (|G|),
 * so it needs no scatter kernel (wasm has none) and costs O(bank size) on every backend.
 */
function gatherBank(kernel: tf.Tensor, index: BankIndex): tf.Tensor4D {
  const source = tf.tensor1d(index.source, "int32");
  const targets = tf.tensor1d(index.targets, "int32");
  // tfjs types the variadic inputs as (Tensor | GradSaveFunc)[]; this op has one input.
  const op = tf.customGrad(
    ((w: tf.Tensor, save: tf.GradSaveFunc) => {
      save([targets]); // kept by the engine until the backward pass
      const bank = tf.gather(w.reshape([-1]), source).reshape(index.bankShape) as tf.Tensor4D;
      return {
        value: bank,
        gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) =>
          tf.gather(dy.reshape([-1]), saved[0]).reshape([index.copies, index.kernelSize]).sum(0)
            .reshape(w.shape),
      };
    }) as unknown as Parameters<typeof tf.customGrad>[0],
  );
  const bank = op(kernel) as tf.Tensor4D;
  source.dispose();
  targets.dispose();
  return bank;
}

/**
 * Lifting filter bank of `group`. `w`: [k, k, Cin, Cout] -> [k, k, Cin, Cout·|G|]; output
 * element e uses `group.plane(w, e, 0)` at output channel `o·|G| + e`.
 */
export function liftBank(group: Group, w: tf.Tensor4D): tf.Tensor4D {
  const [k, , cin, cout] = w.shape;
  return gatherBank(w, bankIndex(group, k, cin, cout, 1));
}

/**
 * Group-convolution filter bank of `group`. `w`: [k, k, Cin, |G|, Cout] (input element j on
 * axis 3) -> [k, k, Cin·|G|, Cout·|G|]: for output element e the filter is moved by e and its
 * element axis permuted, slot e·j holding w[..., j, ...]; then moving the input by g moves
 * output element h to g·h.
 */
export function groupBank(group: Group, w: tf.Tensor5D): tf.Tensor4D {
  const [k, , cin, order, cout] = w.shape;
  if (order !== group.order) {
    throw new RangeError(
      `Expected a ${group.name} kernel with ${group.order} on axis 3, got ${order}`,
    );
  }
  return gatherBank(w, bankIndex(group, k, cin, cout, group.order));
}
