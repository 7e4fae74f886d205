/**
 * The Group values of layers/group.ts: the axioms for every registered group, their actions
 * on grids, images and G-maps, and the filter banks and layers derived from them, against
 * references built from the group's own plane action and against the named p4 / p4m layers.
 */
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import {
  actImage,
  actMap,
  type Group,
  groupBank,
  groupNamed,
  GROUPS,
  liftBank,
  permuteLast,
} from "../layers/group.ts";
import {
  GroupBatchNorm,
  GroupConv2D,
  GroupLiftConv2D,
  GroupPool,
  GroupSpatialPyramidPool,
  P4Conv2D,
  P4LiftConv2D,
  P4mConv2D,
  P4mLiftConv2D,
  P4mPool,
  P4mSpatialPyramidPool,
  P4Pool,
} from "../layers/mod.ts";
import { maxAbsDiff, randomTensor, useBackend } from "./helpers.ts";

await useBackend("wasm");
const TOL = 1e-5;
const groups = Object.values(GROUPS) as Group[];
const elements = (g: Group) => [...Array(g.order).keys()];

function apply(layer: tf.layers.Layer, x: tf.Tensor, training = false): tf.Tensor {
  return layer.apply(x, { training }) as tf.Tensor;
}

/** max |a − b| / max |b|. */
function relErr(a: tf.Tensor, b: tf.Tensor): number {
  return maxAbsDiff(a, b) / Math.max(1e-12, tf.tidy(() => b.abs().max().dataSync()[0]));
}

Deno.test("registry: each group's key is its name; unknown and inherited names are refused", () => {
  for (const [key, g] of Object.entries(GROUPS)) {
    assert.equal(g.name, key);
    assert.equal(groupNamed(key), g);
    assert.equal(g.elementNames.length, g.order, g.name);
    assert.equal(g.elementNames[0], "identity", g.name);
    assert.equal(new Set(g.elementNames).size, g.order, `${g.name}: names are distinct`);
  }
  for (const bad of ["toString", "c8", ""]) {
    assert.throws(() => groupNamed(bad), /^RangeError: Expected a group, one of z2, p4, p4m/);
  }
  assert.deepEqual(groups.map((g) => [g.name, g.order]), [["z2", 1], ["p4", 4], ["p4m", 8]]);
});

for (const g of groups) {
  Deno.test(`${g.name}: closure, identity, inverses and associativity of compose`, () => {
    const es = elements(g);
    for (const a of es) {
      assert.equal(g.compose(0, a), a);
      assert.equal(g.compose(a, 0), a);
      assert.equal(g.compose(a, g.inverse(a)), 0, `${a}·${a}⁻¹`);
      assert.equal(g.compose(g.inverse(a), a), 0, `${a}⁻¹·${a}`);
      for (const b of es) {
        const ab = g.compose(a, b);
        assert.ok(Number.isInteger(ab) && ab >= 0 && ab < g.order, `${a}·${b} = ${ab}`);
        for (const c of es) {
          assert.equal(g.compose(ab, c), g.compose(a, g.compose(b, c)), `(${a}·${b})·${c}`);
        }
      }
      // Left multiplication by a permutes the group (each row of the table is a permutation).
      assert.equal(new Set(es.map((b) => g.compose(a, b))).size, g.order);
    }
  });

  Deno.test(`${g.name}: point permutes the k×k grid, as a homomorphism, in step with plane`, () => {
    for (const k of [1, 3, 4]) {
      const grid = tf.range(0, k * k).reshape([k, k, 1]);
      const values = grid.dataSync();
      for (const a of elements(g)) {
        const seen = new Set<number>();
        const moved = g.plane(grid, a, 0).dataSync();
        for (let i = 0; i < k; i++) {
          for (let j = 0; j < k; j++) {
            const [ti, tj] = g.point(i, j, k, a);
            seen.add(ti * k + tj);
            // plane moves entry (i, j) to point(i, j): the same map of points.
            assert.equal(moved[ti * k + tj], values[i * k + j], `${g.name} e=${a} (${i},${j})`);
            for (const b of elements(g)) {
              const [bi, bj] = g.point(i, j, k, b);
              assert.deepEqual(g.point(bi, bj, k, a), g.point(i, j, k, g.compose(a, b)));
            }
          }
        }
        assert.equal(seen.size, k * k, `${g.name} e=${a} k=${k}: a permutation`);
      }
      grid.dispose();
    }
  });

  Deno.test(`${g.name}: images and G-maps carry actions: (a·(b·x)) = (a·b)·x`, () => {
    const x = randomTensor<tf.Rank.R4>([2, 5, 7, 3], 2) as tf.Tensor4D;
    const f = randomTensor<tf.Rank.R4>([2, 6, 6, 3 * g.order], 3) as tf.Tensor4D;
    for (const a of elements(g)) {
      for (const b of elements(g)) {
        const ab = g.compose(a, b);
        assert.equal(maxAbsDiff(actImage(g, actImage(g, x, b), a), actImage(g, x, ab)), 0);
        assert.equal(maxAbsDiff(actMap(g, actMap(g, f, b), a), actMap(g, f, ab)), 0);
      }
    }
    assert.equal(maxAbsDiff(actMap(g, f, 0), f), 0);
  });

  Deno.test(`${g.name}: filter banks are ψ_e(q, c, j) = w(e⁻¹q, c, e⁻¹j) built by plane`, () => {
    const [k, cin, cout, n] = [3, 2, 3, g.order];
    const w4 = randomTensor<tf.Rank.R4>([k, k, cin, cout], 5) as tf.Tensor4D;
    const w5 = randomTensor<tf.Rank.R5>([k, k, cin, n, cout], 6) as tf.Tensor5D;
    // The reference: each element's filter moved by plane (and its element axis permuted),
    // interleaved at output channels o·|G| + e.
    const lift = tf.stack(elements(g).map((e) => g.plane(w4, e, 0)), 4); // [k,k,cin,cout,n]
    assert.equal(maxAbsDiff(liftBank(g, w4), lift.reshape([k, k, cin, cout * n])), 0);
    const banks = elements(g).map((e) => {
      const moved = g.plane(w5, e, 0).transpose([0, 1, 2, 4, 3]); // [k,k,cin,cout,n]
      const slots = elements(g).map((s) => g.compose(g.inverse(e), s)); // slot s ← e⁻¹s
      return permuteLast(moved, slots).transpose([0, 1, 2, 4, 3]).reshape([k, k, cin * n, cout]);
    });
    const bank = tf.stack(banks, 4).reshape([k, k, cin * n, cout * n]);
    assert.equal(maxAbsDiff(groupBank(g, w5), bank), 0);
    assert.throws(() => groupBank(g, tf.zeros([k, k, cin, n + 1, cout])), /kernel with/);
  });

  Deno.test(`${g.name}: the generic layers are equivariant for every element`, () => {
    const x = randomTensor<tf.Rank.R4>([2, 7, 7, 3], 7) as tf.Tensor4D;
    const lift = new GroupLiftConv2D({ group: g.name, filters: 2, useBias: true, seed: 1 });
    const conv = new GroupConv2D({ group: g.name, filters: 2, seed: 2 });
    const norm = new GroupBatchNorm({ group: g.name });
    const pool = new GroupPool({ group: g.name, mode: "max" });
    const spp = new GroupSpatialPyramidPool({ group: g.name, levels: [1, 2, 3] });
    const f = apply(lift, x) as tf.Tensor4D;
    assert.deepEqual(f.shape, [2, 7, 7, 2 * g.order]);
    const h = apply(norm, apply(conv, f), true) as tf.Tensor4D;
    const pooled = apply(pool, h) as tf.Tensor4D;
    const v = apply(spp, h);
    for (const e of elements(g)) {
      const fe = apply(lift, actImage(g, x, e)) as tf.Tensor4D;
      assert.ok(relErr(fe, actMap(g, f, e)) < TOL, `lift e=${e}`);
      const he = apply(norm, apply(conv, actMap(g, f, e)), true) as tf.Tensor4D;
      assert.ok(relErr(he, actMap(g, h, e)) < TOL, `conv + batch norm e=${e}`);
      assert.ok(relErr(apply(pool, he), actImage(g, pooled, e)) < TOL, `pool e=${e}`);
      assert.ok(relErr(apply(spp, he), v) < TOL, `pyramid pool invariant e=${e}`);
    }
  });
}

Deno.test("the named p4 / p4m layers are the generic ones with their group, configs unchanged", async () => {
  const x = randomTensor<tf.Rank.R4>([1, 6, 6, 2], 9) as tf.Tensor4D;
  const pairs: [tf.layers.Layer, tf.layers.Layer, tf.Tensor][] = [
    [new P4LiftConv2D({ filters: 2 }), new GroupLiftConv2D({ group: "p4", filters: 2 }), x],
    [new P4mLiftConv2D({ filters: 2 }), new GroupLiftConv2D({ group: "p4m", filters: 2 }), x],
    [
      new P4Conv2D({ filters: 2 }),
      new GroupConv2D({ group: "p4", filters: 2 }),
      tf.tile(x, [1, 1, 1, 2]),
    ],
    [
      new P4mConv2D({ filters: 1 }),
      new GroupConv2D({ group: "p4m", filters: 1 }),
      tf.tile(x, [1, 1, 1, 4]),
    ],
    [new P4Pool({}), new GroupPool({ group: "p4" }), tf.tile(x, [1, 1, 1, 2])],
    [new P4mPool({}), new GroupPool({ group: "p4m" }), tf.tile(x, [1, 1, 1, 4])],
    [
      new P4mSpatialPyramidPool({ levels: [1, 2] }),
      new GroupSpatialPyramidPool({ group: "p4m", levels: [1, 2] }),
      tf.tile(x, [1, 1, 1, 4]),
    ],
  ];
  for (const [named, generic, input] of pairs) {
    const y = apply(named, input);
    apply(generic, input); // builds its weights
    generic.setWeights(named.getWeights());
    assert.equal(maxAbsDiff(apply(generic, input), y), 0, named.getClassName());
    // A named layer's saved config names no group (checkpoints saved before load unchanged);
    // a generic one's does, and rebuilds from it.
    assert.equal("group" in named.getConfig(), false, named.getClassName());
    const config = generic.getConfig();
    const Cls = generic.constructor as new (c: unknown) => tf.layers.Layer;
    const rebuilt = new Cls(config);
    apply(rebuilt, input);
    rebuilt.setWeights(generic.getWeights());
    assert.equal(maxAbsDiff(apply(rebuilt, input), y), 0, `${generic.getClassName()} from config`);
  }
  // Saved and reloaded through tfjs serialization, a generic layer keeps its group.
  const model = tf.sequential({
    layers: [new GroupLiftConv2D({ group: "p4m", filters: 2, inputShape: [6, 6, 2] })],
  });
  const y = model.predict(x) as tf.Tensor;
  let artifacts!: tf.io.ModelArtifacts;
  await model.save(tf.io.withSaveHandler((a) => {
    artifacts = a;
    return Promise.resolve({
      modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: "JSON" },
    });
  }));
  const loaded = await tf.loadLayersModel(tf.io.fromMemory(artifacts));
  assert.equal(maxAbsDiff(loaded.predict(x) as tf.Tensor, y), 0);
  assert.equal((loaded.layers[0] as GroupLiftConv2D).group.name, "p4m");
});
