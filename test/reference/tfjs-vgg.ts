/**
 * An independent reference forward pass: the same VGG computed with TensorFlow.js's CPU backend.
 * It shares no code with the compiler (only the VggConfig type), works NHWC where PyTorch works
 * NCHW, and builds AdaptiveAvgPool2d from a pooling matrix, so agreeing with the PyTorch goldens
 * is evidence that both references are right.
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu'; // registers the 'cpu' backend
import type { VggConfig } from '../../compiler/frontend/config/config.js';
import { adaptivePoolMatrix } from './adaptive-pool.mjs';

/**
 * Logits N×numClasses for `input` (N×C×H×W, NCHW as PyTorch), with `weights` under torchvision's
 * state_dict keys in PyTorch's layouts (conv [O, I, 3, 3], linear [out, in]).
 */
export async function tfjsForward(config: VggConfig, weights: Map<string, Float32Array>, input: Float32Array, n: number): Promise<Float32Array> {
  // PROD silences the cpu backend's "install tfjs-node" banner; it only skips debug-mode checks.
  tf.env().set('PROD', true);
  await tf.setBackend('cpu');
  const [h0, w0] = config.inputSize;
  const c0 = config.blocks[0][0];
  if (input.length !== n * c0 * h0 * w0) throw new Error(`input has ${input.length} values, expected ${n}×${c0}×${h0}×${w0}`);
  const param = (key: string, shape: number[]): tf.Tensor => {
    const data = weights.get(key);
    if (!data) throw new Error(`missing weight ${key}`);
    return tf.tensor(data, shape);
  };

  const logits = tf.tidy(() => {
    // NCHW → NHWC: tf.conv2d and tf.maxPool want channels last.
    let x: tf.Tensor4D = tf.transpose(tf.tensor4d(input, [n, c0, h0, w0]), [0, 2, 3, 1]);
    let featureIndex = 0; // torchvision's index into `features`: conv, [batchnorm,] relu per layer, pool per block
    for (const [inChannels, numConv, features] of config.blocks) {
      let c = inChannels;
      for (let j = 0; j < numConv; j++) {
        // PyTorch [O, I, kh, kw] → TF HWIO. 'same' with a 3×3 kernel at stride 1 pads 1 on each side.
        const filter = tf.transpose(param(`features.${featureIndex}.weight`, [features, c, 3, 3]), [2, 3, 1, 0]) as tf.Tensor4D;
        const bias = param(`features.${featureIndex}.bias`, [features]);
        x = tf.add<tf.Tensor4D>(tf.conv2d(x, filter, 1, 'same'), bias);
        if (config.batchNorm) {
          // Eval-mode BatchNorm2d as PyTorch defines it, unfolded: (x − mean) / √(var + ε) · γ + β.
          const bn = (name: string) => param(`features.${featureIndex + 1}.${name}`, [features]) as tf.Tensor1D;
          x = tf.batchNorm<tf.Rank.R4>(x, bn('running_mean'), bn('running_var'), bn('bias'), bn('weight'), config.batchNormEps);
        }
        x = tf.relu(x);
        c = features;
        featureIndex += config.batchNorm ? 3 : 2;
      }
      // 'valid' drops an odd last row/column, like PyTorch's floor mode.
      x = tf.maxPool(x, 2, 2, 'valid');
      featureIndex += 1;
    }

    const [, h, w, c] = x.shape;
    // To NCHW so that flattening gives PyTorch's feature order (c, then y, then x).
    const rows = tf.reshape(tf.transpose(x, [0, 3, 1, 2]), [n * c, h * w]);
    let flat: tf.Tensor2D;
    if (config.avgPool) {
      const [oh, ow] = config.avgPool;
      flat = tf.reshape(tf.matMul(rows, tf.tensor2d(adaptivePoolMatrix(h, w, oh, ow), [h * w, oh * ow])), [n, c * oh * ow]);
    } else if (config.maxPool) {
      if (config.maxPool[0] !== 1 || config.maxPool[1] !== 1) throw new Error('the reference computes adaptive max pools to 1×1 only');
      flat = tf.reshape(tf.max(rows, 1), [n, c]);
    } else {
      flat = tf.reshape(rows, [n, c * h * w]);
    }

    // torchvision's Sequential: a layer with ReLU (and Dropout, the identity in eval mode) takes 3 indices.
    let index = 0;
    for (const layer of [...config.classifier, { features: config.numClasses, relu: false }]) {
      const inFeatures = flat.shape[1];
      const weight = param(`classifier.${index}.weight`, [layer.features, inFeatures]);
      const bias = param(`classifier.${index}.bias`, [layer.features]);
      flat = tf.add(tf.matMul(flat, weight as tf.Tensor2D, false, true), bias);
      if (layer.relu) flat = tf.relu(flat);
      index += layer.relu ? 3 : 1;
    }
    if (config.finalActivation === 'softmax') flat = tf.softmax(flat);
    if (config.finalActivation === 'sigmoid') flat = tf.sigmoid(flat);
    return flat;
  });
  const out = (await logits.data()) as Float32Array;
  logits.dispose();
  return out;
}

/** The seed notebook's key for each torchvision key (conv_backbone.features.{b}.conv_block.{2j} ↔ features.{i}). */
export function notebookKeyMap(config: VggConfig): Map<string, string> {
  const map = new Map<string, string>();
  let featureIndex = 0;
  config.blocks.forEach(([, numConv], b) => {
    for (let j = 0; j < numConv; j++) {
      for (const p of ['weight', 'bias']) map.set(`conv_backbone.features.${b}.conv_block.${2 * j}.${p}`, `features.${featureIndex}.${p}`);
      featureIndex += 2;
    }
    featureIndex += 1;
  });
  // The classifier's keys are the same in both layouts.
  let index = 0;
  for (const layer of [...config.classifier, { relu: false }]) {
    for (const p of ['weight', 'bias']) map.set(`classifier.${index}.${p}`, `classifier.${index}.${p}`);
    index += layer.relu ? 3 : 1;
  }
  return map;
}
