/**
 * Class names for the manifest: from `--labels FILE`, else the config's `labels`, else — for
 * 1000-class models — the ImageNet-1k names in torchvision's order (exported from torchvision 0.14's
 * weight metadata), so a user who exports torchvision's pretrained VGG gets named predictions.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { VggcError } from '../errors.js';
import { parseLabels } from '../frontend/config/parse.js';
import { packageRoot } from '../paths.js';

const IMAGENET_CLASSES = 1000;

export function readLabelsFile(path: string, numClasses: number): string[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new VggcError(`${path}: cannot read the labels file (${(e as NodeJS.ErrnoException).code ?? e})`);
  }
  const fail = (m: string): never => {
    throw new VggcError(`${path}: ${m}`);
  };
  // A JSON list of names, or plain text with one name per line.
  if (text.trimStart().startsWith('[')) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (e) {
      fail(`invalid JSON (${(e as Error).message})`);
    }
    return parseLabels(parsed, numClasses, 'labels', fail);
  }
  const lines = text.split(/\r?\n/).map((l) => l.trim()).filter((l) => l.length > 0);
  return parseLabels(lines, numClasses, 'labels', fail);
}

export function defaultLabels(numClasses: number): string[] | null {
  if (numClasses !== IMAGENET_CLASSES) return null;
  return JSON.parse(readFileSync(join(packageRoot(), 'compiler/labels/imagenet-classes.json'), 'utf8')) as string[];
}
