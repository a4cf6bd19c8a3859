/** A validated config as JSON again: what model.json records, and what overrides start from. */
import type { Manifest } from '../../../runtime/format/manifest.js';
import type { VggConfig } from './config.js';

/**
 * The config as model.json records it: a torchvision-style hidden layer (with ReLU) as its width,
 * one without as `{ features, relu: false }`, so that configs from before these fields existed give
 * the manifests they gave.
 */
export function configJson(config: VggConfig): Manifest['config'] {
  return {
    ...config,
    blocks: config.blocks.map((b) => [...b]),
    inputSize: [...config.inputSize],
    avgPool: config.avgPool ? [...config.avgPool] : null,
    maxPool: config.maxPool ? [...config.maxPool] : null,
    classifier: config.classifier.map((l) => (l.relu ? l.features : { features: l.features, relu: false })),
    outputs: config.outputs ? [...config.outputs] : null,
  };
}

