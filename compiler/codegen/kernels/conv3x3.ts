/**
 * Direct 3×3 pad-1 convolution + bias + ReLU (+ fused 2×2 max-pool), stored NHWC with a zero frame.
 * The SIMD kernel is here; its scalar reference is conv3x3-ref.ts, and tests compare the two.
 *
 * Register tile: P output pixels × 8 output channels (P = 4 pixels along a row, or 2×2 pixels when the
 * pool is fused). For each of the 3 kernel rows the reduction walks kx and the input channels in one
 * contiguous run (NHWC: pixel x+1's channels follow pixel x's), broadcasting one input value per pixel
 * and multiplying it by the 8 packed weights of that (ky, kx, ci). Pixel addresses differ by
 * constants, so every load uses one pointer plus an immediate offset.
 */
import type { DirectConvStep } from '../../program.js';
import { OUT_BLOCK } from '../../weights/layout.js';
import { constant, grouped, indent, layerHeader, range, stepPrefix } from '../text.js';
import { emitZeroFrame, mapConstants, mapGeometry } from './border.js';
import { emitConvReference } from './conv3x3-ref.js';
import { acc, BLOCK_BYTES, F32_BYTES, loadF32Weights, tileAccumulators, tileReduction, V128_BYTES } from './simd.js';

/** The geometry both direct kernels (SIMD and reference) are written from. */
export interface ConvGeometry {
  /** Constant prefix, e.g. L03. */
  readonly p: string;
  readonly fn: string;
  /** Real input channels, and as stored. */
  readonly cin: number;
  readonly cinStride: number;
  readonly cout: number;
  readonly coutStride: number;
  /** Convolution height and width (input = output before pooling). */
  readonly h: number;
  readonly w: number;
  /** Stored output map (pooled when fused). */
  readonly oh: number;
  readonly ow: number;
  readonly pool: boolean;
  /** False when a named output needs the map before ReLU (the chain is split; see fuse/). */
  readonly relu: boolean;
}

export function emitConv(step: DirectConvStep): string[] {
  const s = step.schedule;
  const { conv, pool } = s.layer;
  const inMap = mapGeometry(step.input);
  const outMap = mapGeometry(step.output);
  const g: ConvGeometry = {
    p: stepPrefix(step.index), fn: step.exportName,
    cin: conv.input.c, cinStride: s.inStride, cout: conv.output.c, coutStride: s.outStride,
    h: conv.input.h, w: conv.input.w, oh: s.layer.output.h, ow: s.layer.output.w, pool, relu: s.layer.relu,
  };
  const p = g.p;
  const header = layerHeader(`layer ${step.index}: ${conv.id}${pool ? ` + pool` : ''} — ${step.kernel}`, [
    `in  ${conv.input.c}×${conv.input.h}×${conv.input.w} (stored NHWC ${inMap.rows}×${inMap.cols}×${g.cinStride} with zero frame) at ${step.input.offset}`,
    `out ${s.layer.output.c}×${g.oh}×${g.ow} (stored NHWC ${outMap.rows}×${outMap.cols}×${g.coutStride}) at ${step.output.offset}`,
    `weights [${g.coutStride / OUT_BLOCK}][3][3][${g.cin}][${OUT_BLOCK}] at ${step.weight.address}, bias [${g.coutStride}] at ${step.bias.address}`,
    `MACs ${grouped(s.macs)}; tile ${s.tile.rows}×${s.tile.cols} pixels × ${s.tile.channels} channels; work item = one output row${pool ? ' (pooled)' : ''}`,
  ]);
  const consts = [
    ...mapConstants(p, step.input, step.output),
    constant(`${p}_OUT_ROWS`, g.oh, 'output rows (work items)', 'i32'),
    constant(`${p}_W`, step.weight.address, 'packed weights'),
    constant(`${p}_W_BLOCK`, 9 * g.cin * BLOCK_BYTES, 'bytes of weights per 8-channel output block'),
    constant(`${p}_W_KY`, 3 * g.cin * BLOCK_BYTES, 'bytes of weights per kernel row'),
    constant(`${p}_B`, step.bias.address, 'bias, padded to whole blocks'),
    constant(`${p}_CO_BLOCKS`, g.coutStride / OUT_BLOCK, '8-channel output blocks', 'i32'),
  ];
  const body = s.spec.variant === 'ref' ? emitConvReference(g) : simdBody(g, s.tile.cols);
  return [...header, ...consts, ...emitZeroFrame(`${p}_zeroFrame`, p, step.output), ...body];
}

interface TileShape {
  readonly name: string;
  /** [row, col] of each pixel in the tile, relative to the tile's top-left input position. */
  readonly pixels: ReadonlyArray<readonly [number, number]>;
}

function simdBody(g: ConvGeometry, tileCols: number): string[] {
  const p = g.p;
  const tiles: TileShape[] = [];
  let tileLoop: string[];
  if (g.pool) {
    const t: TileShape = { name: `${p}_tile2x2`, pixels: [[0, 0], [0, 1], [1, 0], [1, 1]] };
    tiles.push(t);
    tileLoop = [
      `for (let x = 0; x < ${g.ow}; x++) {`,
      `  ${t.name}(inp, w, out, b0, b1);`,
      `  inp += 2 * ${p}_IN_PIXEL;`,
      `  out += ${p}_OUT_PIXEL;`,
      `}`,
    ];
  } else {
    const full = Math.floor(g.w / tileCols);
    const tail = g.w % tileCols;
    const t: TileShape = { name: `${p}_tile1x${tileCols}`, pixels: range(tileCols).map((c) => [0, c]) };
    tiles.push(t);
    tileLoop = [
      `for (let x = 0; x < ${full}; x++) {`,
      `  ${t.name}(inp, w, out, b0, b1);`,
      `  inp += ${tileCols} * ${p}_IN_PIXEL;`,
      `  out += ${tileCols} * ${p}_OUT_PIXEL;`,
      `}`,
    ];
    if (tail) {
      const tt: TileShape = { name: `${p}_tile1x${tail}`, pixels: range(tail).map((c) => [0, c]) };
      tiles.push(tt);
      tileLoop.push(`${tt.name}(inp, w, out, b0, b1); // the last ${tail} pixel(s) of the row`);
    }
  }
  // With the pool fused, output row y reads input rows 2y … 2y+3.
  const inRow = g.pool ? `<usize>(2 * y) * ${p}_IN_ROW` : `<usize>y * ${p}_IN_ROW`;
  return [
    ...tiles.flatMap((t) => emitTile(g, t)),
    `export function ${g.fn}(rowStart: i32, rowEnd: i32, worker: i32): void {`,
    `  for (let y = rowStart; y < rowEnd; y++) {`,
    `    const inRow: usize = ${p}_IN + ${inRow};`,
    `    const outRow: usize = ${p}_OUT + <usize>(y + 1) * ${p}_OUT_ROW + ${p}_OUT_PIXEL;`,
    `    for (let cb = 0; cb < ${p}_CO_BLOCKS; cb++) {`,
    `      const w: usize = ${p}_W + <usize>cb * ${p}_W_BLOCK;`,
    `      const b0 = v128.load(${p}_B + <usize>cb * ${BLOCK_BYTES});`,
    `      const b1 = v128.load(${p}_B + <usize>cb * ${BLOCK_BYTES}, ${V128_BYTES});`,
    `      let inp: usize = inRow;`,
    `      let out: usize = outRow + <usize>cb * ${BLOCK_BYTES};`,
    ...indent(tileLoop, 3),
    `    }`,
    `  }`,
    `  ${p}_zeroFrame(rowStart, rowEnd);`,
    `}`,
  ];
}

/**
 * One register tile: accumulators start at zero and run over ky, then over (kx, ci); bias, ReLU (and
 * the 2×2 max) are applied once in registers before the store.
 */
function emitTile(g: ConvGeometry, t: TileShape): string[] {
  const p = g.p;
  const n = t.pixels.length;
  const pixelOffset = ([r, c]: readonly [number, number]): string => (r ? `${p}_IN_ROW + ` : '') + `${c} * ${p}_IN_PIXEL`;
  // When input channels are not padded, (kx, ci) for kx = 0..2 is one contiguous run of 3·Cin floats.
  const contiguous = g.cin === g.cinStride;
  const reduction = tileReduction({
    shares: 'weights',
    rows: n,
    steps: contiguous ? 3 * g.cin : g.cin,
    rowInput: (r) => ({ address: `x + ${pixelOffset(t.pixels[r])}`, offset: 0 }),
    loadWeights: loadF32Weights,
    xStride: F32_BYTES,
    kStride: BLOCK_BYTES,
  });
  const reduce = contiguous
    ? [
        `for (let ky = 0; ky < 3; ky++) {`,
        `  let x: usize = inp + <usize>ky * ${p}_IN_ROW;`,
        `  let k: usize = w + <usize>ky * ${p}_W_KY;`,
        ...indent(reduction),
        `}`,
      ]
    : [
        `for (let ky = 0; ky < 3; ky++) {`,
        `  let k: usize = w + <usize>ky * ${p}_W_KY;`,
        `  for (let kx = 0; kx < 3; kx++) {`,
        `    let x: usize = inp + <usize>ky * ${p}_IN_ROW + <usize>kx * ${p}_IN_PIXEL;`,
        ...indent(reduction, 2),
        `  }`,
        `}`,
      ];
  const store: string[] = [];
  if (g.pool) {
    const max = (h: 0 | 1): string => `max4(max4(${acc(0, h)}, ${acc(1, h)}), max4(${acc(2, h)}, ${acc(3, h)}))`;
    store.push(
      `const m0 = ${max(0)};`,
      `const m1 = ${max(1)};`,
      `v128.store(out, relu4(f32x4.add(m0, b0)));`,
      `v128.store(out, relu4(f32x4.add(m1, b1)), ${V128_BYTES});`,
    );
  } else {
    const act = (v: string): string => (g.relu ? `relu4(${v})` : v);
    t.pixels.forEach(([, c], i) => {
      store.push(`v128.store(out + ${c} * ${p}_OUT_PIXEL, ${act(`f32x4.add(${acc(i, 0)}, b0)`)});`);
      store.push(`v128.store(out + ${c} * ${p}_OUT_PIXEL, ${act(`f32x4.add(${acc(i, 1)}, b1)`)}, ${V128_BYTES});`);
    });
  }
  return [
    '',
    `// ${n} pixel(s) × 8 channels: ${2 * n} f32x4 accumulators.`,
    `// @ts-ignore: decorator`,
    `@inline function ${t.name}(inp: usize, w: usize, out: usize, b0: v128, b1: v128): void {`,
    `  const zero = f32x4.splat(0);`,
    ...indent(tileAccumulators(n)),
    ...indent(reduce),
    ...indent(store),
    `}`,
    '',
  ];
}
