/** The CRC-32 that zip entries carry: zlib's where Node has it (≥ 20.15; hardware-accelerated), else the JavaScript one. */
import * as zlib from 'node:zlib';
import { crc32Js } from './crc32-js.js';

type Crc32 = (bytes: Uint8Array, previous?: number) => number;

export const crc32: Crc32 = (zlib as { crc32?: Crc32 }).crc32 ?? crc32Js;
