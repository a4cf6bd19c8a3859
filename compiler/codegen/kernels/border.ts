/**
 * The zero frame around a stored map. 3×3 pad-1 convolutions read the one-pixel border as padding, and
 * Winograd consumers read whole 6×6 tiles that may reach a few rows/columns further; the arena is
 * reused between layers, so whoever writes a map also writes its frame: for the rows it produces, the
 * left pixel and the right margin; the top row with the first rows, the bottom margin with the last.
 */
import type { ArenaTensor } from '../../program.js';
import { constant } from '../text.js';

export interface MapGeometry {
  readonly rows: number;
  readonly cols: number;
  readonly channelStride: number;
  readonly h: number;
  readonly w: number;
  readonly pixelBytes: number;
  readonly rowBytes: number;
}

export function mapGeometry(t: ArenaTensor): MapGeometry {
  if (t.layout.kind !== 'nhwc-pad1') throw new Error('codegen: expected a padded NHWC map');
  const { rows, cols, channelStride, shape } = t.layout;
  return { rows, cols, channelStride, h: shape.h, w: shape.w, pixelBytes: channelStride * 4, rowBytes: cols * channelStride * 4 };
}

/** The six constants every map-to-map layer names: where its input and output maps are, and their pixel and row strides. */
export function mapConstants(p: string, input: ArenaTensor, output: ArenaTensor): string[] {
  const inMap = mapGeometry(input);
  const outMap = mapGeometry(output);
  return [
    constant(`${p}_IN`, input.offset, 'input map, padded NHWC'),
    constant(`${p}_IN_PIXEL`, inMap.pixelBytes, 'bytes per input pixel'),
    constant(`${p}_IN_ROW`, inMap.rowBytes, 'bytes per stored input row'),
    constant(`${p}_OUT`, output.offset, 'output map, padded NHWC'),
    constant(`${p}_OUT_PIXEL`, outMap.pixelBytes, 'bytes per output pixel'),
    constant(`${p}_OUT_ROW`, outMap.rowBytes, 'bytes per stored output row'),
  ];
}

/** `@inline function {name}(y0, y1)`: zero the frame for interior rows [y0, y1) of the map at `out`. */
export function emitZeroFrame(name: string, prefix: string, out: ArenaTensor): string[] {
  const g = mapGeometry(out);
  const p = `${prefix}_FRAME`;
  return [
    constant(`${p}_BASE`, out.offset, 'map whose zero frame this writes'),
    constant(`${p}_ROW`, g.rowBytes, `bytes per stored row (${g.cols} pixels)`),
    constant(`${p}_PIXEL`, g.pixelBytes, 'bytes per pixel'),
    `// @ts-ignore: decorator`,
    `@inline function ${name}(y0: i32, y1: i32): void {`,
    `  for (let y = y0; y < y1; y++) {`,
    `    const row: usize = ${p}_BASE + <usize>(y + 1) * ${p}_ROW;`,
    `    zeroBytes(row, ${p}_PIXEL); // left border`,
    `    zeroBytes(row + ${g.w + 1} * ${p}_PIXEL, ${g.cols - g.w - 1} * ${p}_PIXEL); // right border and margin`,
    `  }`,
    `  if (y0 == 0) zeroBytes(${p}_BASE, ${p}_ROW); // top border`,
    `  if (y1 == ${g.h}) zeroBytes(${p}_BASE + <usize>${g.h + 1} * ${p}_ROW, ${g.rows - g.h - 1} * ${p}_ROW); // bottom border and margin`,
    `}`,
  ];
}
