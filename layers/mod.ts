/**
 * symlab's custom tfjs layers. This module is the one place that registers them with tfjs
 * serialization, so that `tf.loadLayersModel` can rebuild a saved model.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { BatchNorm, GroupBatchNorm, P4BatchNorm } from "./batch_norm.ts";
import { GroupConv2D, GroupLiftConv2D } from "./group_conv.ts";
import { GroupPool } from "./group_pool.ts";
import { GroupSpatialPyramidPool } from "./group_pyramid_pool.ts";
import { P4Conv2D } from "./p4_conv.ts";
import { P4LiftConv2D } from "./p4_lift_conv.ts";
import { P4Pool } from "./p4_pool.ts";
import { P4SpatialPyramidPool } from "./p4_spatial_pyramid_pool.ts";
import { P4mBatchNorm } from "./p4m_batch_norm.ts";
import { P4mConv2D } from "./p4m_conv.ts";
import { P4mLiftConv2D } from "./p4m_lift_conv.ts";
import { P4mPool } from "./p4m_pool.ts";
import { P4mSpatialPyramidPool } from "./p4m_spatial_pyramid_pool.ts";
import { ScaleBatchNorm } from "./scale_batch_norm.ts";
import { ScaleConv2D } from "./scale_conv.ts";
import { ScaleLiftConv2D } from "./scale_lift_conv.ts";
import { ScalePool } from "./scale_pool.ts";
import { SpatialPyramidPool } from "./spatial_pyramid_pool.ts";
import { Standardize } from "./standardize.ts";
import { SymmetricMaxPool2D } from "./symmetric_max_pool.ts";
import { Z2Conv2D } from "./z2_conv.ts";
import { QuarterTurn } from "./quarter_turn.ts";
import { LogMeanSoftmax } from "./log_mean_softmax.ts";

export {
  BatchNorm,
  GroupBatchNorm,
  GroupConv2D,
  GroupLiftConv2D,
  GroupPool,
  GroupSpatialPyramidPool,
  LogMeanSoftmax,
  P4BatchNorm,
  P4Conv2D,
  P4LiftConv2D,
  P4mBatchNorm,
  P4mConv2D,
  P4mLiftConv2D,
  P4mPool,
  P4mSpatialPyramidPool,
  P4Pool,
  P4SpatialPyramidPool,
  QuarterTurn,
  ScaleBatchNorm,
  ScaleConv2D,
  ScaleLiftConv2D,
  ScalePool,
  SpatialPyramidPool,
  Standardize,
  SymmetricMaxPool2D,
  Z2Conv2D,
};
export type { BatchNormArgs } from "./batch_norm.ts";
export type { ConvArgs } from "./conv_base.ts";
export type { GroupConvArgs } from "./group_conv.ts";
export type { GroupPoolArgs } from "./group_pool.ts";
export type { GroupPyramidPoolArgs } from "./group_pyramid_pool.ts";
export type { P4PoolArgs } from "./p4_pool.ts";
export type { QuarterTurnArgs } from "./quarter_turn.ts";
export type { LogMeanSoftmaxArgs } from "./log_mean_softmax.ts";
export type { P4mPoolArgs } from "./p4m_pool.ts";
export type { P4mSpatialPyramidPoolArgs } from "./p4m_spatial_pyramid_pool.ts";
export type { OrbitReduce, P4SpatialPyramidPoolArgs } from "./p4_spatial_pyramid_pool.ts";
export type { ScaleBatchNormArgs } from "./scale_batch_norm.ts";
export type { ScaleConv2DArgs } from "./scale_conv.ts";
export type { ScaleConvArgs } from "./scale_lift_conv.ts";
export type { ScalePoolArgs } from "./scale_pool.ts";
export type { SpatialPyramidPoolArgs } from "./spatial_pyramid_pool.ts";
export type { StandardizeArgs } from "./standardize.ts";
export { binEdges } from "./pyramid_bins.ts";
export { isSymmetricGrid, type Padding } from "./conv_geometry.ts";

for (
  const cls of [
    Z2Conv2D,
    P4LiftConv2D,
    P4Conv2D,
    BatchNorm,
    P4BatchNorm,
    P4Pool,
    SpatialPyramidPool,
    P4SpatialPyramidPool,
    P4mLiftConv2D,
    P4mConv2D,
    P4mBatchNorm,
    P4mPool,
    P4mSpatialPyramidPool,
    ScaleLiftConv2D,
    ScaleConv2D,
    ScaleBatchNorm,
    ScalePool,
    SymmetricMaxPool2D,
    Standardize,
    QuarterTurn,
    LogMeanSoftmax,
    GroupLiftConv2D,
    GroupConv2D,
    GroupBatchNorm,
    GroupPool,
    GroupSpatialPyramidPool,
  ]
) {
  tf.serialization.registerClass(
    cls as unknown as tf.serialization.SerializableConstructor<tf.serialization.Serializable>,
  );
}
