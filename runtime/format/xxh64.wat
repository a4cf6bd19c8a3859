;; XXH64 (xxHash, 64-bit; https://github.com/Cyan4973/xxHash/blob/dev/doc/xxhash_spec.md), streaming,
;; over bytes in the memory it imports: the loaders instantiate it on the model's own memory, so a
;; shard is checked where it was written, right after each read, while it is still in the CPU cache.
;; Scalar i64 code: ~11-12 GB/s in V8 here, ~3x zlib's CRC-32 and ~8x SHA-256 (README, "Verification").
;; runtime/format/xxh64-wasm.ts holds these bytes (npm run xxh64:wasm writes it); test/xxh64.test.ts
;; checks both against the JavaScript reference and Debian's xxhsum.
(module
  ;; Any shared memory of up to 4 GiB (the model's): a shared import matches every maximum ≤ 65536 pages.
  (import "env" "memory" (memory 1 65536 shared))
  (global $P1 i64 (i64.const 0x9E3779B185EBCA87))
  (global $P2 i64 (i64.const 0xC2B2AE3D27D4EB4F))
  (global $P3 i64 (i64.const 0x165667B19E3779F9))
  (global $P4 i64 (i64.const 0x85EBCA77C2B2AE63))
  (global $P5 i64 (i64.const 0x27D4EB2F165667C5))
  ;; The state between update calls: four lane accumulators, the seed and the bytes seen so far.
  (global $v1 (mut i64) (i64.const 0))
  (global $v2 (mut i64) (i64.const 0))
  (global $v3 (mut i64) (i64.const 0))
  (global $v4 (mut i64) (i64.const 0))
  (global $seed (mut i64) (i64.const 0))
  (global $total (mut i64) (i64.const 0))

  ;; round(acc, lane) = rotl(acc + lane * P2, 31) * P1
  (func $round (param $acc i64) (param $lane i64) (result i64)
    (i64.mul (i64.rotl (i64.add (local.get $acc) (i64.mul (local.get $lane) (global.get $P2))) (i64.const 31)) (global.get $P1)))

  (func $merge (param $h i64) (param $v i64) (result i64)
    (i64.add (i64.mul (i64.xor (local.get $h) (call $round (i64.const 0) (local.get $v))) (global.get $P1)) (global.get $P4)))

  (func (export "xxh64_reset") (param $s i64)
    (global.set $seed (local.get $s))
    (global.set $total (i64.const 0))
    (global.set $v1 (i64.add (i64.add (local.get $s) (global.get $P1)) (global.get $P2)))
    (global.set $v2 (i64.add (local.get $s) (global.get $P2)))
    (global.set $v3 (local.get $s))
    (global.set $v4 (i64.sub (local.get $s) (global.get $P1))))

  ;; The 32-byte stripes of [ptr, ptr + len): len must be a multiple of 32 (the caller keeps the rest
  ;; for the next call or for digest). The four lanes are independent chains, which is its speed.
  ;; Loops count bytes down rather than compare with ptr + len, which wraps for bytes that end at 4 GiB.
  (func (export "xxh64_update") (param $ptr i32) (param $len i32)
    (local $a i64) (local $b i64) (local $c i64) (local $d i64) (local $left i32)
    (local.set $a (global.get $v1)) (local.set $b (global.get $v2))
    (local.set $c (global.get $v3)) (local.set $d (global.get $v4))
    (local.set $left (local.get $len))
    (block $done
      (loop $stripe
        (br_if $done (i32.lt_u (local.get $left) (i32.const 32)))
        (local.set $a (call $round (local.get $a) (i64.load offset=0 (local.get $ptr))))
        (local.set $b (call $round (local.get $b) (i64.load offset=8 (local.get $ptr))))
        (local.set $c (call $round (local.get $c) (i64.load offset=16 (local.get $ptr))))
        (local.set $d (call $round (local.get $d) (i64.load offset=24 (local.get $ptr))))
        (local.set $ptr (i32.add (local.get $ptr) (i32.const 32)))
        (local.set $left (i32.sub (local.get $left) (i32.const 32)))
        (br $stripe)))
    (global.set $v1 (local.get $a)) (global.set $v2 (local.get $b))
    (global.set $v3 (local.get $c)) (global.set $v4 (local.get $d))
    (global.set $total (i64.add (global.get $total) (i64.extend_i32_u (local.get $len)))))

  ;; The hash of everything updated so far plus the last len (< 32) bytes at ptr.
  (func (export "xxh64_digest") (param $ptr i32) (param $len i32) (result i64)
    (local $h i64)
    (if (i64.ge_u (global.get $total) (i64.const 32))
      (then
        (local.set $h (i64.add (i64.add (i64.rotl (global.get $v1) (i64.const 1)) (i64.rotl (global.get $v2) (i64.const 7)))
                               (i64.add (i64.rotl (global.get $v3) (i64.const 12)) (i64.rotl (global.get $v4) (i64.const 18)))))
        (local.set $h (call $merge (local.get $h) (global.get $v1)))
        (local.set $h (call $merge (local.get $h) (global.get $v2)))
        (local.set $h (call $merge (local.get $h) (global.get $v3)))
        (local.set $h (call $merge (local.get $h) (global.get $v4))))
      (else (local.set $h (i64.add (global.get $seed) (global.get $P5)))))
    (local.set $h (i64.add (local.get $h) (i64.add (global.get $total) (i64.extend_i32_u (local.get $len)))))
    (block $done8 (loop $eight
      (br_if $done8 (i32.lt_u (local.get $len) (i32.const 8)))
      (local.set $h (i64.xor (local.get $h) (call $round (i64.const 0) (i64.load (local.get $ptr)))))
      (local.set $h (i64.add (i64.mul (i64.rotl (local.get $h) (i64.const 27)) (global.get $P1)) (global.get $P4)))
      (local.set $ptr (i32.add (local.get $ptr) (i32.const 8)))
      (local.set $len (i32.sub (local.get $len) (i32.const 8)))
      (br $eight)))
    (if (i32.ge_u (local.get $len) (i32.const 4))
      (then
        (local.set $h (i64.xor (local.get $h) (i64.mul (i64.load32_u (local.get $ptr)) (global.get $P1))))
        (local.set $h (i64.add (i64.mul (i64.rotl (local.get $h) (i64.const 23)) (global.get $P2)) (global.get $P3)))
        (local.set $ptr (i32.add (local.get $ptr) (i32.const 4)))
        (local.set $len (i32.sub (local.get $len) (i32.const 4)))))
    (block $done1 (loop $one
      (br_if $done1 (i32.eqz (local.get $len)))
      (local.set $h (i64.xor (local.get $h) (i64.mul (i64.load8_u (local.get $ptr)) (global.get $P5))))
      (local.set $h (i64.mul (i64.rotl (local.get $h) (i64.const 11)) (global.get $P1)))
      (local.set $ptr (i32.add (local.get $ptr) (i32.const 1)))
      (local.set $len (i32.sub (local.get $len) (i32.const 1)))
      (br $one)))
    ;; Avalanche.
    (local.set $h (i64.mul (i64.xor (local.get $h) (i64.shr_u (local.get $h) (i64.const 33))) (global.get $P2)))
    (local.set $h (i64.mul (i64.xor (local.get $h) (i64.shr_u (local.get $h) (i64.const 29))) (global.get $P3)))
    (i64.xor (local.get $h) (i64.shr_u (local.get $h) (i64.const 32))))
)
