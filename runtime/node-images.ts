/** Node-only helpers for images: file → input tensor (sharp), logits → named top-K. */
export { imageToTensor } from './images/node.js';
export { topK, softmax, outputKind, type Prediction, type OutputKind } from './predict.js';
