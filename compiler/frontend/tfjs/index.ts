/** TensorFlow.js LayersModel front end: model.json + .bin shards → ImportedNetwork. */
export { importTfjsModel, type TfjsImport } from './import.js';
