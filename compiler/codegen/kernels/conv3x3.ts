/**
 * 3×3 pad-1 convolution + bias + ReLU (+ fused 2×2 max-pool), stored NHWC with a zero border.
 *
 * SIMD kernel: a register tile of P output pixels × 8 output channels (P = 4 pixels along a row, or
 * 2×2 pixels when the pool is fused). For each of the 3 kernel rows the reduction walks kx and the
 * input channels in one contiguous run (NHWC: pixel x+1's channels follow pixel x's), broadcasting one
 * input value per pixel and multiplying it by the 8 packed weights of that (ky, kx, ci). Pixel
 * addresses differ by constants, so every load uses one pointer plus an immediate offset.
 *
 * Reference kernel: the textbook loops over the same memory, one output value at a time.
 */
import type { ConvSchedule } from '../../schedule/schedule.js';
import { CONV_UNROLL } from '../../schedule/schedule.js';
import type { PlannedStep } from '../../plan/plan.js';
import { OUT_BLOCK } from '../../weights/layout.js';
import { constant, grouped, indent, layerHeader, range } from '../text.js';
import { emitZeroFrame, mapGeometry } from './border.js';

const F32 = 4;
const BLOCK_BYTES = OUT_BLOCK * F32; // one 8-channel block: two v128
const HALF = 16; // byte offset of the second f32x4 of a block

interface ConvGeometry {
  p: string; // constant prefix, e.g. L03
  fn: string; // exported function name
  cin: number; // real input channels
  cinStride: number; // stored input channels
  cout: number;
  coutStride: number;
  h: number; // conv height/width (input = output before pooling)
  w: number;
  oh: number; // stored output map (pooled when fused)
  ow: number;
  pool: boolean;
}

export function emitConv(step: PlannedStep, weightsBase: number): string[] {
  const s = step.schedule as ConvSchedule;
  const { conv, pool } = s.step;
  if (step.input.layout.kind !== 'nhwc-pad1' || step.output.layout.kind !== 'nhwc-pad1' || !step.weight || !step.bias) throw new Error('codegen: conv expects padded NHWC tensors and weights');
  const g: ConvGeometry = {
    p: `L${String(step.index).padStart(2, '0')}`,
    fn: step.exportName,
    cin: conv.input.c, cinStride: step.input.layout.channelStride,
    cout: conv.output.c, coutStride: step.output.layout.channelStride,
    h: conv.input.h, w: conv.input.w, oh: s.step.output.h, ow: s.step.output.w, pool,
  };
  const p = g.p;
  const inMap = mapGeometry(step.input);
  const outMap = mapGeometry(step.output);
  const header = layerHeader(`layer ${step.index}: ${conv.id}${pool ? ` + pool` : ''} — ${s.kernel}`, [
    `in  ${conv.input.c}×${conv.input.h}×${conv.input.w} (stored NHWC ${inMap.rows}×${inMap.cols}×${g.cinStride} with zero frame) at ${step.input.offset}`,
    `out ${s.step.output.c}×${g.oh}×${g.ow} (stored NHWC ${outMap.rows}×${outMap.cols}×${g.coutStride}) at ${step.output.offset}`,
    `weights [${g.coutStride / OUT_BLOCK}][3][3][${g.cin}][8] at ${weightsBase + step.weight.offset}, bias [${g.coutStride}] at ${weightsBase + step.bias.offset}`,
    `MACs ${grouped(s.macs)}; tile ${s.tile.rows}×${s.tile.cols} pixels × ${s.tile.channels} channels; work item = one output row${pool ? ' (pooled)' : ''}`,
  ]);
  const consts = [
    constant(`${p}_IN`, step.input.offset, 'input map, padded NHWC'),
    constant(`${p}_IN_PIXEL`, g.cinStride * F32, 'bytes per input pixel'),
    constant(`${p}_IN_ROW`, inMap.rowBytes, 'bytes per stored input row'),
    constant(`${p}_OUT`, step.output.offset, 'output map, padded NHWC'),
    constant(`${p}_OUT_PIXEL`, g.coutStride * F32, 'bytes per output pixel'),
    constant(`${p}_OUT_ROW`, outMap.rowBytes, 'bytes per stored output row'),
    constant(`${p}_OUT_ROWS`, g.oh, 'output rows (work items)', 'i32'),
    constant(`${p}_W`, weightsBase + step.weight.offset, 'packed weights'),
    constant(`${p}_W_BLOCK`, 9 * g.cin * BLOCK_BYTES, 'bytes of weights per 8-channel output block'),
    constant(`${p}_W_KY`, 3 * g.cin * BLOCK_BYTES, 'bytes of weights per kernel row'),
    constant(`${p}_B`, weightsBase + step.bias.offset, 'bias, padded to whole blocks'),
    constant(`${p}_CO_BLOCKS`, g.coutStride / OUT_BLOCK, '8-channel output blocks', 'i32'),
  ];
  const body = s.kernel.endsWith('scalar-ref') ? referenceBody(g) : simdBody(g, s);
  return [...header, ...consts, ...emitZeroFrame(`${p}_zeroFrame`, p, step.output), ...body];
}

/** Both kernels write the output map's zero frame for the rows they produce. */
function zeroBorders(g: ConvGeometry): string[] {
  return [`${g.p}_zeroFrame(rowStart, rowEnd);`];
}

interface TileShape {
  name: string;
  /** [row, col] of each pixel in the tile, relative to the tile's top-left input position. */
  pixels: Array<[number, number]>;
}

function simdBody(g: ConvGeometry, s: ConvSchedule): string[] {
  const p = g.p;
  const fn = g.fn;
  const tiles: TileShape[] = [];
  const lines: string[] = [];
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
    const cols = s.tile.cols;
    const full = Math.floor(g.w / cols);
    const tail = g.w % cols;
    const t: TileShape = { name: `${p}_tile1x${cols}`, pixels: range(cols).map((c) => [0, c]) };
    tiles.push(t);
    tileLoop = [
      `for (let x = 0; x < ${full}; x++) {`,
      `  ${t.name}(inp, w, out, b0, b1);`,
      `  inp += ${cols} * ${p}_IN_PIXEL;`,
      `  out += ${cols} * ${p}_OUT_PIXEL;`,
      `}`,
    ];
    if (tail) {
      const tt: TileShape = { name: `${p}_tile1x${tail}`, pixels: range(tail).map((c) => [0, c]) };
      tiles.push(tt);
      tileLoop.push(`${tt.name}(inp, w, out, b0, b1); // the last ${tail} pixel(s) of the row`);
    }
  }
  for (const t of tiles) lines.push(...emitTile(g, t));
  const inRow = g.pool ? `<usize>(2 * y) * ${p}_IN_ROW` : `<usize>y * ${p}_IN_ROW`;
  lines.push(
    `export function ${fn}(rowStart: i32, rowEnd: i32, worker: i32): void {`,
    `  for (let y = rowStart; y < rowEnd; y++) {`,
    `    const inRow: usize = ${p}_IN + ${inRow};`,
    `    const outRow: usize = ${p}_OUT + <usize>(y + 1) * ${p}_OUT_ROW + ${p}_OUT_PIXEL;`,
    `    for (let cb = 0; cb < ${p}_CO_BLOCKS; cb++) {`,
    `      const w: usize = ${p}_W + <usize>cb * ${p}_W_BLOCK;`,
    `      const b0 = v128.load(${p}_B + <usize>cb * ${BLOCK_BYTES});`,
    `      const b1 = v128.load(${p}_B + <usize>cb * ${BLOCK_BYTES}, ${HALF});`,
    `      let inp: usize = inRow;`,
    `      let out: usize = outRow + <usize>cb * ${BLOCK_BYTES};`,
    ...indent(tileLoop, 3),
    `    }`,
    `  }`,
    ...indent(zeroBorders(g)),
    `}`,
  );
  return lines;
}

/**
 * One register tile: accumulators acc{pixel}_{half} start at zero, run over ky, then over (kx, ci);
 * bias, ReLU (and the 2×2 max) are applied once in registers before the store.
 */
function emitTile(g: ConvGeometry, t: TileShape): string[] {
  const p = g.p;
  const n = t.pixels.length;
  const pixelOffset = ([r, c]: [number, number]): string => (r ? `${p}_IN_ROW + ` : '') + `${c} * ${p}_IN_PIXEL`;
  // When input channels are not padded, (kx, ci) for kx = 0..2 is one contiguous run of 3·Cin floats.
  const contiguous = g.cin === g.cinStride;
  const run = contiguous ? 3 * g.cin : g.cin;
  const pairs = Math.floor(run / CONV_UNROLL);
  const rest = run % CONV_UNROLL;
  const step = (xo: number, wo: number): string[] => {
    const out = [`{`, `  const w0 = v128.load(k, ${wo}), w1 = v128.load(k, ${wo + HALF});`];
    t.pixels.forEach((px, i) => {
      out.push(`  const x${i} = v128.load32_splat(x + ${pixelOffset(px)}, ${xo});`);
      out.push(`  acc${i}_0 = madd(acc${i}_0, x${i}, w0); acc${i}_1 = madd(acc${i}_1, x${i}, w1);`);
    });
    out.push(`}`);
    return out;
  };
  const runLoop = (): string[] => [
    `for (let i = 0; i < ${pairs}; i++) {`,
    ...indent(range(CONV_UNROLL).flatMap((u) => step(u * F32, u * BLOCK_BYTES))),
    `  x += ${CONV_UNROLL * F32};`,
    `  k += ${CONV_UNROLL * BLOCK_BYTES};`,
    `}`,
    ...(rest ? [...range(rest).flatMap((u) => step(u * F32, u * BLOCK_BYTES)), `x += ${rest * F32};`, `k += ${rest * BLOCK_BYTES};`] : []),
  ];
  const reduce = contiguous
    ? [
        `for (let ky = 0; ky < 3; ky++) {`,
        `  let x: usize = inp + <usize>ky * ${p}_IN_ROW;`,
        `  let k: usize = w + <usize>ky * ${p}_W_KY;`,
        ...indent(runLoop()),
        `}`,
      ]
    : [
        `for (let ky = 0; ky < 3; ky++) {`,
        `  let k: usize = w + <usize>ky * ${p}_W_KY;`,
        `  for (let kx = 0; kx < 3; kx++) {`,
        `    let x: usize = inp + <usize>ky * ${p}_IN_ROW + <usize>kx * ${p}_IN_PIXEL;`,
        ...indent(runLoop(), 2),
        `  }`,
        `}`,
      ];
  const store: string[] = [];
  if (g.pool) {
    store.push(
      `const m0 = max4(max4(acc0_0, acc1_0), max4(acc2_0, acc3_0));`,
      `const m1 = max4(max4(acc0_1, acc1_1), max4(acc2_1, acc3_1));`,
      `v128.store(out, relu4(f32x4.add(m0, b0)));`,
      `v128.store(out, relu4(f32x4.add(m1, b1)), ${HALF});`,
    );
  } else {
    t.pixels.forEach(([, c], i) => {
      store.push(`v128.store(out + ${c} * ${p}_OUT_PIXEL, relu4(f32x4.add(acc${i}_0, b0)));`);
      store.push(`v128.store(out + ${c} * ${p}_OUT_PIXEL, relu4(f32x4.add(acc${i}_1, b1)), ${HALF});`);
    });
  }
  return [
    '',
    `// ${n} pixel(s) × 8 channels: ${2 * n} f32x4 accumulators.`,
    `// @ts-ignore: decorator`,
    `@inline function ${t.name}(inp: usize, w: usize, out: usize, b0: v128, b1: v128): void {`,
    `  const zero = f32x4.splat(0);`,
    ...range(n).map((i) => `  let acc${i}_0 = zero, acc${i}_1 = zero;`),
    ...indent(reduce),
    ...indent(store),
    `}`,
    '',
  ];
}

function referenceBody(g: ConvGeometry): string[] {
  const p = g.p;
  const window = g.pool ? 2 : 1;
  return [
    `export function ${g.fn}(rowStart: i32, rowEnd: i32, worker: i32): void {`,
    `  for (let y = rowStart; y < rowEnd; y++) {`,
    `    for (let x = 0; x < ${g.ow}; x++) {`,
    `      const out: usize = ${p}_OUT + <usize>(y + 1) * ${p}_OUT_ROW + <usize>(x + 1) * ${p}_OUT_PIXEL;`,
    `      for (let co = 0; co < ${g.cout}; co++) {`,
    `        let best: f32 = <f32>-Infinity;`,
    `        for (let dy = 0; dy < ${window}; dy++) for (let dx = 0; dx < ${window}; dx++) {`,
    `          const cy = y * ${window} + dy, cx = x * ${window} + dx; // conv output pixel`,
    `          let sum: f32 = 0;`,
    `          for (let ky = 0; ky < 3; ky++) for (let kx = 0; kx < 3; kx++) for (let ci = 0; ci < ${g.cin}; ci++) {`,
    `            const v = load<f32>(${p}_IN + <usize>(cy + ky) * ${p}_IN_ROW + <usize>(cx + kx) * ${p}_IN_PIXEL + <usize>ci * 4);`,
    `            const wt = load<f32>(${p}_W + <usize>(co >> 3) * ${p}_W_BLOCK + <usize>((ky * 3 + kx) * ${g.cin} + ci) * ${BLOCK_BYTES} + <usize>(co & 7) * 4);`,
    `            sum += v * wt;`,
    `          }`,
    `          best = max1(best, sum);`,
    `        }`,
    `        store<f32>(out + <usize>co * 4, relu1(best + load<f32>(${p}_B + <usize>co * 4)));`,
    `      }`,
    `      for (let co = ${g.cout}; co < ${g.coutStride}; co++) store<f32>(out + <usize>co * 4, 0); // padding channels`,
    `    }`,
    `  }`,
    ...indent(zeroBorders(g)),
    `}`,
  ];
}

