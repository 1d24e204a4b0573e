;; The per-row inner loops of boosting in WebAssembly: binning a column (histogram-tree.ts), the
;; gradient-histogram count (histograms.ts), the split of a node's rows (boosting.ts TreeGrower),
;; the margin walk after each round (boosting.ts MarginWalker) and the compiled model's scoring
;; walks (compiled-model.ts). V8 checks the bounds of every
;; typed-array access in the JavaScript loops, while WebAssembly's memory accesses are guarded by
;; the address space. Compiled to histogram-kernel.wasm by
;; `npx tsx scripts/build-wasm.ts`; tests/unit/histograms.test.ts checks that the two match.
;; Addresses are byte offsets into the memory the instance imports (for the count, one shared
;; memory the training thread and its helper thread both count in).
;; A histogram cell is (gradient sum, hessian sum, row count) as three f64, 24 bytes.
(module
  (import "env" "memory" (memory 1 65536 shared))

  ;; The compiled model scoring walks (compiled-model.ts CompiledModel, copied into this memory by
  ;; setModel): byte addresses of its arrays, and the row stride (features per row). A node is a
  ;; 16-byte record, so a step reads one cache line: its feature with its flags in the top byte
  ;; (i32), its threshold (f32), its left child (i32) and its categorical right-set (i32).
  (global $stride (mut i32) (i32.const 0))
  (global $nodes (mut i32) (i32.const 0))
  (global $categoryBits (mut i32) (i32.const 0))
  (global $categoryCodes (mut f32) (f32.const 0))
  (global $value (mut i32) (i32.const 0))
  ;; a second model's leaf values on the same trees (setSecondValues; 0: none)
  (global $value2 (mut i32) (i32.const 0))
  (global $step (mut i32) (i32.const 0))
  (global $roots (mut i32) (i32.const 0))
  (global $depths (mut i32) (i32.const 0))
  (global $trees (mut i32) (i32.const 0))

  ;; ordered[2i], ordered[2i + 1] = gradient[order[i]], hessian[order[i]] for i < n: the node's
  ;; gradients in node order, read once instead of once per feature.
  (func (export "gather")
    (param $order i32) (param $n i32) (param $gradient i32) (param $hessian i32) (param $ordered i32)
    (local $end i32) (local $row i32)
    (local.set $end (i32.add (local.get $order) (i32.shl (local.get $n) (i32.const 2))))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $order) (local.get $end)))
        (local.set $row (i32.shl (i32.load (local.get $order)) (i32.const 3)))
        (f64.store (local.get $ordered) (f64.load (i32.add (local.get $gradient) (local.get $row))))
        (f64.store offset=8 (local.get $ordered) (f64.load (i32.add (local.get $hessian) (local.get $row))))
        (local.set $order (i32.add (local.get $order) (i32.const 4)))
        (local.set $ordered (i32.add (local.get $ordered) (i32.const 16)))
        (br $next))))

  ;; Adds n rows (row indices at $order, their gathered gradients at $ordered) to four features'
  ;; histograms at once: $a..$d address the features' bin columns (one byte per row), $ha..$hd
  ;; their histograms. Each cell adds its rows in the order's sequence, as the JavaScript did.
  (func (export "count4")
    (param $a i32) (param $b i32) (param $c i32) (param $d i32)
    (param $ha i32) (param $hb i32) (param $hc i32) (param $hd i32)
    (param $order i32) (param $n i32) (param $ordered i32)
    (local $end i32) (local $row i32) (local $g f64) (local $h f64) (local $cell i32)
    (local.set $end (i32.add (local.get $order) (i32.shl (local.get $n) (i32.const 2))))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $order) (local.get $end)))
        (local.set $row (i32.load (local.get $order)))
        (local.set $g (f64.load (local.get $ordered)))
        (local.set $h (f64.load offset=8 (local.get $ordered)))
        (local.set $cell (i32.add (local.get $ha) (i32.mul (i32.load8_u (i32.add (local.get $a) (local.get $row))) (i32.const 24))))
        (f64.store (local.get $cell) (f64.add (f64.load (local.get $cell)) (local.get $g)))
        (f64.store offset=8 (local.get $cell) (f64.add (f64.load offset=8 (local.get $cell)) (local.get $h)))
        (f64.store offset=16 (local.get $cell) (f64.add (f64.load offset=16 (local.get $cell)) (f64.const 1)))
        (local.set $cell (i32.add (local.get $hb) (i32.mul (i32.load8_u (i32.add (local.get $b) (local.get $row))) (i32.const 24))))
        (f64.store (local.get $cell) (f64.add (f64.load (local.get $cell)) (local.get $g)))
        (f64.store offset=8 (local.get $cell) (f64.add (f64.load offset=8 (local.get $cell)) (local.get $h)))
        (f64.store offset=16 (local.get $cell) (f64.add (f64.load offset=16 (local.get $cell)) (f64.const 1)))
        (local.set $cell (i32.add (local.get $hc) (i32.mul (i32.load8_u (i32.add (local.get $c) (local.get $row))) (i32.const 24))))
        (f64.store (local.get $cell) (f64.add (f64.load (local.get $cell)) (local.get $g)))
        (f64.store offset=8 (local.get $cell) (f64.add (f64.load offset=8 (local.get $cell)) (local.get $h)))
        (f64.store offset=16 (local.get $cell) (f64.add (f64.load offset=16 (local.get $cell)) (f64.const 1)))
        (local.set $cell (i32.add (local.get $hd) (i32.mul (i32.load8_u (i32.add (local.get $d) (local.get $row))) (i32.const 24))))
        (f64.store (local.get $cell) (f64.add (f64.load (local.get $cell)) (local.get $g)))
        (f64.store offset=8 (local.get $cell) (f64.add (f64.load offset=8 (local.get $cell)) (local.get $h)))
        (f64.store offset=16 (local.get $cell) (f64.add (f64.load offset=16 (local.get $cell)) (f64.const 1)))
        (local.set $order (i32.add (local.get $order) (i32.const 4)))
        (local.set $ordered (i32.add (local.get $ordered) (i32.const 16)))
        (br $next))))
;; Splits a node's n row indices at $order by their bin in $column (one byte per row): rows whose
  ;; bin has $goesLeft[bin] = 1 move to the front, the others after them, both sides keeping their
  ;; order (the next histograms add rows in ascending order). Every row is written to both sides
  ;; and only one side's end moves on: no branch to mispredict on a split that cuts rows at random.
  ;; $scratch holds the right side until it is copied back. Returns the left side's row count.
  (func (export "partition")
    (param $order i32) (param $n i32) (param $column i32) (param $goesLeft i32) (param $scratch i32)
    (result i32)
    (local $in i32) (local $end i32) (local $left i32) (local $right i32) (local $row i32) (local $step i32)
    (local.set $in (local.get $order))
    (local.set $end (i32.add (local.get $order) (i32.shl (local.get $n) (i32.const 2))))
    (local.set $left (local.get $order))
    (local.set $right (local.get $scratch))
    (block $split
      (loop $next
        (br_if $split (i32.ge_u (local.get $in) (local.get $end)))
        (local.set $row (i32.load (local.get $in)))
        (i32.store (local.get $left) (local.get $row))
        (i32.store (local.get $right) (local.get $row))
        (local.set $step
          (i32.shl (i32.load8_u (i32.add (local.get $goesLeft) (i32.load8_u (i32.add (local.get $column) (local.get $row)))))
                   (i32.const 2)))
        (local.set $left (i32.add (local.get $left) (local.get $step)))
        (local.set $right (i32.add (local.get $right) (i32.sub (i32.const 4) (local.get $step))))
        (local.set $in (i32.add (local.get $in) (i32.const 4)))
        (br $next)))
    ;; the right side back after the left
    (local.set $in (local.get $scratch))
    (local.set $step (local.get $left))
    (block $copied
      (loop $copy
        (br_if $copied (i32.ge_u (local.get $in) (local.get $right)))
        (i32.store (local.get $step) (i32.load (local.get $in)))
        (local.set $in (i32.add (local.get $in) (i32.const 4)))
        (local.set $step (i32.add (local.get $step) (i32.const 4)))
        (br $copy)))
    (i32.shr_u (i32.sub (local.get $left) (local.get $order)) (i32.const 2)))

;; Bins one column: for each of $rows f64 values at $column, the number of the 255 edges at
  ;; $edges (f64, ascending, padded with +infinity) that are <= it, stored as a byte every $stride
  ;; bytes from $out. A fixed eight-step search with no data-dependent branch; NaN compares false
  ;; everywhere, so it lands in bin 0 (histogram-tree.ts binFeatures).
  (func (export "binColumn") (param $column i32) (param $rows i32) (param $edges i32) (param $out i32) (param $stride i32)
    (local $end i32) (local $x f64) (local $bin i32)
    (local.set $end (i32.add (local.get $column) (i32.shl (local.get $rows) (i32.const 3))))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $column) (local.get $end)))
        (local.set $x (f64.load (local.get $column)))
        (local.set $bin (select (i32.const 128) (i32.const 0) (f64.le (f64.load offset=1016 (local.get $edges)) (local.get $x))))
        (local.set $bin (i32.add (local.get $bin)
          (select (i32.const 64) (i32.const 0)
            (f64.le (f64.load offset=504 (i32.add (local.get $edges) (i32.shl (local.get $bin) (i32.const 3)))) (local.get $x)))))
        (local.set $bin (i32.add (local.get $bin)
          (select (i32.const 32) (i32.const 0)
            (f64.le (f64.load offset=248 (i32.add (local.get $edges) (i32.shl (local.get $bin) (i32.const 3)))) (local.get $x)))))
        (local.set $bin (i32.add (local.get $bin)
          (select (i32.const 16) (i32.const 0)
            (f64.le (f64.load offset=120 (i32.add (local.get $edges) (i32.shl (local.get $bin) (i32.const 3)))) (local.get $x)))))
        (local.set $bin (i32.add (local.get $bin)
          (select (i32.const 8) (i32.const 0)
            (f64.le (f64.load offset=56 (i32.add (local.get $edges) (i32.shl (local.get $bin) (i32.const 3)))) (local.get $x)))))
        (local.set $bin (i32.add (local.get $bin)
          (select (i32.const 4) (i32.const 0)
            (f64.le (f64.load offset=24 (i32.add (local.get $edges) (i32.shl (local.get $bin) (i32.const 3)))) (local.get $x)))))
        (local.set $bin (i32.add (local.get $bin)
          (select (i32.const 2) (i32.const 0)
            (f64.le (f64.load offset=8 (i32.add (local.get $edges) (i32.shl (local.get $bin) (i32.const 3)))) (local.get $x)))))
        (local.set $bin (i32.add (local.get $bin)
          (select (i32.const 1) (i32.const 0)
            (f64.le (f64.load offset=0 (i32.add (local.get $edges) (i32.shl (local.get $bin) (i32.const 3)))) (local.get $x)))))
        (i32.store8 (local.get $out) (local.get $bin))
        (local.set $out (i32.add (local.get $out) (local.get $stride)))
        (local.set $column (i32.add (local.get $column) (i32.const 8)))
        (br $next))))

  ;; Adds each of n rows' leaf value to its margin (float32, as Math.fround), then gives the row
  ;; what the next round needs from that margin: a fit row the gradient and hessian of the
  ;; log-loss, a validation row its loss term. The leaf is found by $depth steps through $next
  ;; (u16 per node x bin: the child, a leaf leading to itself) from the row's bins ($bins + row *
  ;; $features, one byte per feature), $feature (i32 per node) naming the bin each node reads;
  ;; four rows walk side by side, so their chains of dependent loads overlap. $value: f64 per
  ;; node; $margin, $gradient, $hessian, $loss: f64 per row; $labels: a byte per row, bit 0 the
  ;; label and bit 1 set on a validation row. The arithmetic is boosting.ts's sigmoid and the
  ;; clamped log-loss, in their order, with $exp and $log (Math.exp's and Math.log's floats).
  (func (export "addLeafValues")
    (param $rows i32) (param $n i32) (param $bins i32) (param $features i32) (param $next i32)
    (param $feature i32) (param $value i32) (param $depth i32) (param $margin i32)
    (param $labels i32) (param $gradient i32) (param $hessian i32) (param $loss i32)
    (local $end i32) (local $end4 i32) (local $cursor i32) (local $step i32) (local $at i32) (local $row i32)
    (local $b0 i32) (local $b1 i32) (local $b2 i32) (local $b3 i32)
    (local $n0 i32) (local $n1 i32) (local $n2 i32) (local $n3 i32)
    (local $m f64) (local $p f64) (local $label i32)
    (local.set $end (i32.add (local.get $rows) (i32.shl (local.get $n) (i32.const 2))))
    (local.set $end4 (i32.add (local.get $rows) (i32.shl (i32.and (local.get $n) (i32.const -4)) (i32.const 2))))
    (local.set $cursor (local.get $rows))
    (block $done4
      (loop $next4
        (br_if $done4 (i32.ge_u (local.get $cursor) (local.get $end4)))
        (local.set $b0 (i32.add (local.get $bins) (i32.mul (i32.load offset=0 (local.get $cursor)) (local.get $features))))
        (local.set $n0 (i32.const 0))
        (local.set $b1 (i32.add (local.get $bins) (i32.mul (i32.load offset=4 (local.get $cursor)) (local.get $features))))
        (local.set $n1 (i32.const 0))
        (local.set $b2 (i32.add (local.get $bins) (i32.mul (i32.load offset=8 (local.get $cursor)) (local.get $features))))
        (local.set $n2 (i32.const 0))
        (local.set $b3 (i32.add (local.get $bins) (i32.mul (i32.load offset=12 (local.get $cursor)) (local.get $features))))
        (local.set $n3 (i32.const 0))
        (local.set $step (i32.const 0))
        (block $walked4
          (loop $next_step4
            (br_if $walked4 (i32.ge_u (local.get $step) (local.get $depth)))
            (local.set $n0
              (i32.load16_u (i32.add (local.get $next)
                (i32.shl (i32.add (i32.shl (local.get $n0) (i32.const 8))
                  (i32.load8_u (i32.add (local.get $b0) (i32.load (i32.add (local.get $feature) (i32.shl (local.get $n0) (i32.const 2)))))))
                  (i32.const 1)))))
            (local.set $n1
              (i32.load16_u (i32.add (local.get $next)
                (i32.shl (i32.add (i32.shl (local.get $n1) (i32.const 8))
                  (i32.load8_u (i32.add (local.get $b1) (i32.load (i32.add (local.get $feature) (i32.shl (local.get $n1) (i32.const 2)))))))
                  (i32.const 1)))))
            (local.set $n2
              (i32.load16_u (i32.add (local.get $next)
                (i32.shl (i32.add (i32.shl (local.get $n2) (i32.const 8))
                  (i32.load8_u (i32.add (local.get $b2) (i32.load (i32.add (local.get $feature) (i32.shl (local.get $n2) (i32.const 2)))))))
                  (i32.const 1)))))
            (local.set $n3
              (i32.load16_u (i32.add (local.get $next)
                (i32.shl (i32.add (i32.shl (local.get $n3) (i32.const 8))
                  (i32.load8_u (i32.add (local.get $b3) (i32.load (i32.add (local.get $feature) (i32.shl (local.get $n3) (i32.const 2)))))))
                  (i32.const 1)))))
            (local.set $step (i32.add (local.get $step) (i32.const 1)))
            (br $next_step4)))
        (local.set $at (i32.add (local.get $margin) (i32.shl (i32.load offset=0 (local.get $cursor)) (i32.const 3))))
        (f64.store (local.get $at)
          (f64.promote_f32 (f32.demote_f64
            (f64.add (f64.load (local.get $at)) (f64.load (i32.add (local.get $value) (i32.shl (local.get $n0) (i32.const 3))))))))
        (local.set $at (i32.add (local.get $margin) (i32.shl (i32.load offset=4 (local.get $cursor)) (i32.const 3))))
        (f64.store (local.get $at)
          (f64.promote_f32 (f32.demote_f64
            (f64.add (f64.load (local.get $at)) (f64.load (i32.add (local.get $value) (i32.shl (local.get $n1) (i32.const 3))))))))
        (local.set $at (i32.add (local.get $margin) (i32.shl (i32.load offset=8 (local.get $cursor)) (i32.const 3))))
        (f64.store (local.get $at)
          (f64.promote_f32 (f32.demote_f64
            (f64.add (f64.load (local.get $at)) (f64.load (i32.add (local.get $value) (i32.shl (local.get $n2) (i32.const 3))))))))
        (local.set $at (i32.add (local.get $margin) (i32.shl (i32.load offset=12 (local.get $cursor)) (i32.const 3))))
        (f64.store (local.get $at)
          (f64.promote_f32 (f32.demote_f64
            (f64.add (f64.load (local.get $at)) (f64.load (i32.add (local.get $value) (i32.shl (local.get $n3) (i32.const 3))))))))
        (local.set $cursor (i32.add (local.get $cursor) (i32.const 16)))
        (br $next4)))
    (block $done1
      (loop $next1
        (br_if $done1 (i32.ge_u (local.get $cursor) (local.get $end)))
        (local.set $b0 (i32.add (local.get $bins) (i32.mul (i32.load offset=0 (local.get $cursor)) (local.get $features))))
        (local.set $n0 (i32.const 0))
        (local.set $step (i32.const 0))
        (block $walked1
          (loop $next_step1
            (br_if $walked1 (i32.ge_u (local.get $step) (local.get $depth)))
            (local.set $n0
              (i32.load16_u (i32.add (local.get $next)
                (i32.shl (i32.add (i32.shl (local.get $n0) (i32.const 8))
                  (i32.load8_u (i32.add (local.get $b0) (i32.load (i32.add (local.get $feature) (i32.shl (local.get $n0) (i32.const 2)))))))
                  (i32.const 1)))))
            (local.set $step (i32.add (local.get $step) (i32.const 1)))
            (br $next_step1)))
        (local.set $at (i32.add (local.get $margin) (i32.shl (i32.load offset=0 (local.get $cursor)) (i32.const 3))))
        (f64.store (local.get $at)
          (f64.promote_f32 (f32.demote_f64
            (f64.add (f64.load (local.get $at)) (f64.load (i32.add (local.get $value) (i32.shl (local.get $n0) (i32.const 3))))))))
        (local.set $cursor (i32.add (local.get $cursor) (i32.const 4)))
        (br $next1)))
    (local.set $cursor (local.get $rows))
    (block $scored
      (loop $next_row
        (br_if $scored (i32.ge_u (local.get $cursor) (local.get $end)))
        (local.set $row (i32.load (local.get $cursor)))
        (local.set $at (i32.shl (local.get $row) (i32.const 3)))
        (local.set $m (f64.load (i32.add (local.get $margin) (local.get $at))))
        ;; sigmoid: 1 / (1 + exp(-margin))
        (local.set $p (f64.div (f64.const 1) (f64.add (f64.const 1) (call $exp (f64.neg (local.get $m))))))
        (local.set $label (i32.load8_u (i32.add (local.get $labels) (local.get $row))))
        (if (i32.and (local.get $label) (i32.const 2))
          (then
            ;; log of the probability given to the label, the probability clamped to [1e-15, 1 - 1e-15]
            (local.set $p (f64.min (f64.max (local.get $p) (f64.const 1e-15)) (f64.const 0x1.ffffffffffff7p-1)))
            (f64.store (i32.add (local.get $loss) (local.get $at))
              (call $log (select (local.get $p) (f64.sub (f64.const 1) (local.get $p)) (i32.and (local.get $label) (i32.const 1))))))
          (else
            (f64.store (i32.add (local.get $gradient) (local.get $at))
              (f64.sub (local.get $p) (f64.convert_i32_u (local.get $label))))
            (f64.store (i32.add (local.get $hessian) (local.get $at))
              (f64.max (f64.mul (local.get $p) (f64.sub (f64.const 1) (local.get $p))) (f64.const 1e-16)))))
        (local.set $cursor (i32.add (local.get $cursor) (i32.const 4)))
        (br $next_row))))

  ;; V8's Math.exp (src/base/ieee754.cc: fdlibm's __ieee754_exp, with exp(1) = E), operation for
  ;; operation, so it gives Math.exp's float for every argument on x64 (tests/unit/histograms.test.ts
  ;; compares them); calling Math.exp from WebAssembly took three times as long.
  (func $exp (export "exp") (param $x f64) (result f64)
    (local $hx i32) (local $xsb i32) (local $k i32) (local $hi f64) (local $lo f64) (local $t f64)
    (local $c f64) (local $y f64) (local $twopk f64)
    (local.set $hx (i32.wrap_i64 (i64.shr_u (i64.reinterpret_f64 (local.get $x)) (i64.const 32))))
    (local.set $xsb (i32.shr_u (local.get $hx) (i32.const 31)))
    (local.set $hx (i32.and (local.get $hx) (i32.const 0x7fffffff)))
    ;; |x| >= 709.78: not finite, overflow or underflow
    (if (i32.ge_u (local.get $hx) (i32.const 0x40862E42))
      (then
        (if (i32.ge_u (local.get $hx) (i32.const 0x7ff00000))
          (then
            (if (i32.or (i32.and (local.get $hx) (i32.const 0xfffff)) (i32.wrap_i64 (i64.reinterpret_f64 (local.get $x))))
              (then (return (f64.add (local.get $x) (local.get $x)))))
            (return (select (local.get $x) (f64.const 0) (i32.eqz (local.get $xsb))))))
        (if (f64.gt (local.get $x) (f64.const 7.09782712893383973096e+02))
          (then (return (f64.mul (f64.const 1.0e+300) (f64.const 1.0e+300)))))
        (if (f64.lt (local.get $x) (f64.const -7.45133219101941108420e+02))
          (then (return (f64.mul (f64.const 9.33263618503218878990e-302) (f64.const 9.33263618503218878990e-302)))))))
    ;; argument reduction: x = k ln2 + (hi - lo)
    (if (i32.gt_u (local.get $hx) (i32.const 0x3FD62E42))
      (then
        (if (i32.lt_u (local.get $hx) (i32.const 0x3FF0A2B2))
          (then
            (if (f64.eq (local.get $x) (f64.const 1)) (then (return (f64.const 2.718281828459045))))
            (local.set $hi (f64.sub (local.get $x)
              (select (f64.const -6.93147180369123816490e-01) (f64.const 6.93147180369123816490e-01) (local.get $xsb))))
            (local.set $lo (select (f64.const -1.90821492927058770002e-10) (f64.const 1.90821492927058770002e-10) (local.get $xsb)))
            (local.set $k (i32.sub (i32.sub (i32.const 1) (local.get $xsb)) (local.get $xsb))))
          (else
            (local.set $k (i32.trunc_f64_s
              (f64.add (f64.mul (f64.const 1.44269504088896338700e+00) (local.get $x))
                (select (f64.const -0.5) (f64.const 0.5) (local.get $xsb)))))
            (local.set $t (f64.convert_i32_s (local.get $k)))
            (local.set $hi (f64.sub (local.get $x) (f64.mul (local.get $t) (f64.const 6.93147180369123816490e-01))))
            (local.set $lo (f64.mul (local.get $t) (f64.const 1.90821492927058770002e-10)))))
        (local.set $x (f64.sub (local.get $hi) (local.get $lo))))
      (else
        ;; |x| < 2^-28
        (if (i32.lt_u (local.get $hx) (i32.const 0x3E300000))
          (then
            (if (f64.gt (f64.add (f64.const 1.0e+300) (local.get $x)) (f64.const 1))
              (then (return (f64.add (f64.const 1) (local.get $x)))))))))
    (local.set $t (f64.mul (local.get $x) (local.get $x)))
    (local.set $twopk
      (f64.reinterpret_i64 (i64.shl
        (i64.extend_i32_u (i32.add (i32.const 0x3FF00000)
          (i32.shl (select (local.get $k) (i32.add (local.get $k) (i32.const 1000)) (i32.ge_s (local.get $k) (i32.const -1021)))
            (i32.const 20))))
        (i64.const 32))))
    (local.set $c (f64.sub (local.get $x)
      (f64.mul (local.get $t)
        (f64.add (f64.const 1.66666666666666019037e-01)
          (f64.mul (local.get $t)
            (f64.add (f64.const -2.77777777770155933842e-03)
              (f64.mul (local.get $t)
                (f64.add (f64.const 6.61375632143793436117e-05)
                  (f64.mul (local.get $t)
                    (f64.add (f64.const -1.65339022054652515390e-06)
                      (f64.mul (local.get $t) (f64.const 4.13813679705723846039e-08))))))))))))
    (if (i32.eqz (local.get $k))
      (then
        (return (f64.sub (f64.const 1)
          (f64.sub (f64.div (f64.mul (local.get $x) (local.get $c)) (f64.sub (local.get $c) (f64.const 2))) (local.get $x))))))
    (local.set $y (f64.sub (f64.const 1)
      (f64.sub
        (f64.sub (local.get $lo) (f64.div (f64.mul (local.get $x) (local.get $c)) (f64.sub (f64.const 2) (local.get $c))))
        (local.get $hi))))
    (if (i32.ge_s (local.get $k) (i32.const -1021))
      (then
        (if (i32.eq (local.get $k) (i32.const 1024))
          (then (return (f64.mul (f64.mul (local.get $y) (f64.const 2)) (f64.const 8.988465674311579539e307)))))
        (return (f64.mul (local.get $y) (local.get $twopk)))))
    (f64.mul (f64.mul (local.get $y) (local.get $twopk)) (f64.const 9.33263618503218878990e-302)))

  ;; V8's Math.log (src/base/ieee754.cc: fdlibm's __ieee754_log), operation for operation, as
  ;; $exp above.
  (func $log (export "log") (param $x f64) (result f64)
    (local $hx i32) (local $lx i32) (local $k i32) (local $i i32) (local $j i32)
    (local $f f64) (local $s f64) (local $z f64) (local $w f64) (local $r f64) (local $t1 f64) (local $t2 f64)
    (local $dk f64) (local $hfsq f64)
    (local.set $hx (i32.wrap_i64 (i64.shr_u (i64.reinterpret_f64 (local.get $x)) (i64.const 32))))
    (local.set $lx (i32.wrap_i64 (i64.reinterpret_f64 (local.get $x))))
    ;; x < 2^-1022: zero, negative or subnormal
    (if (i32.lt_s (local.get $hx) (i32.const 0x00100000))
      (then
        (if (i32.eqz (i32.or (i32.and (local.get $hx) (i32.const 0x7fffffff)) (local.get $lx)))
          (then (return (f64.div (f64.const -1.80143985094819840000e+16) (f64.const 0)))))
        (if (i32.lt_s (local.get $hx) (i32.const 0))
          (then (return (f64.div (f64.sub (local.get $x) (local.get $x)) (f64.const 0)))))
        (local.set $k (i32.const -54))
        (local.set $x (f64.mul (local.get $x) (f64.const 1.80143985094819840000e+16)))
        (local.set $hx (i32.wrap_i64 (i64.shr_u (i64.reinterpret_f64 (local.get $x)) (i64.const 32))))))
    (if (i32.ge_s (local.get $hx) (i32.const 0x7ff00000)) (then (return (f64.add (local.get $x) (local.get $x)))))
    (local.set $k (i32.add (local.get $k) (i32.sub (i32.shr_s (local.get $hx) (i32.const 20)) (i32.const 1023))))
    (local.set $hx (i32.and (local.get $hx) (i32.const 0x000fffff)))
    (local.set $i (i32.and (i32.add (local.get $hx) (i32.const 0x95f64)) (i32.const 0x100000)))
    ;; normalize x or x/2: the high word replaced, the low word kept
    (local.set $x (f64.reinterpret_i64 (i64.or
      (i64.shl (i64.extend_i32_u (i32.or (local.get $hx) (i32.xor (local.get $i) (i32.const 0x3ff00000)))) (i64.const 32))
      (i64.and (i64.reinterpret_f64 (local.get $x)) (i64.const 0xffffffff)))))
    (local.set $k (i32.add (local.get $k) (i32.shr_s (local.get $i) (i32.const 20))))
    (local.set $f (f64.sub (local.get $x) (f64.const 1)))
    ;; -2^-20 <= f < 2^-20
    (if (i32.lt_s (i32.and (i32.const 0x000fffff) (i32.add (i32.const 2) (local.get $hx))) (i32.const 3))
      (then
        (if (f64.eq (local.get $f) (f64.const 0))
          (then
            (if (i32.eqz (local.get $k)) (then (return (f64.const 0))))
            (local.set $dk (f64.convert_i32_s (local.get $k)))
            (return (f64.add (f64.mul (local.get $dk) (f64.const 6.93147180369123816490e-01))
              (f64.mul (local.get $dk) (f64.const 1.90821492927058770002e-10))))))
        (local.set $r (f64.mul (f64.mul (local.get $f) (local.get $f))
          (f64.sub (f64.const 0.5) (f64.mul (f64.const 0.33333333333333333) (local.get $f)))))
        (if (i32.eqz (local.get $k)) (then (return (f64.sub (local.get $f) (local.get $r)))))
        (local.set $dk (f64.convert_i32_s (local.get $k)))
        (return (f64.sub (f64.mul (local.get $dk) (f64.const 6.93147180369123816490e-01))
          (f64.sub (f64.sub (local.get $r) (f64.mul (local.get $dk) (f64.const 1.90821492927058770002e-10))) (local.get $f))))))
    (local.set $s (f64.div (local.get $f) (f64.add (f64.const 2) (local.get $f))))
    (local.set $dk (f64.convert_i32_s (local.get $k)))
    (local.set $z (f64.mul (local.get $s) (local.get $s)))
    (local.set $i (i32.sub (local.get $hx) (i32.const 0x6147a)))
    (local.set $w (f64.mul (local.get $z) (local.get $z)))
    (local.set $j (i32.sub (i32.const 0x6b851) (local.get $hx)))
    (local.set $t1 (f64.mul (local.get $w)
      (f64.add (f64.const 3.999999999940941908e-01)
        (f64.mul (local.get $w) (f64.add (f64.const 2.222219843214978396e-01) (f64.mul (local.get $w) (f64.const 1.531383769920937332e-01)))))))
    (local.set $t2 (f64.mul (local.get $z)
      (f64.add (f64.const 6.666666666666735130e-01)
        (f64.mul (local.get $w)
          (f64.add (f64.const 2.857142874366239149e-01)
            (f64.mul (local.get $w) (f64.add (f64.const 1.818357216161805012e-01) (f64.mul (local.get $w) (f64.const 1.479819860511658591e-01)))))))))
    (local.set $i (i32.or (local.get $i) (local.get $j)))
    (local.set $r (f64.add (local.get $t2) (local.get $t1)))
    (if (i32.gt_s (local.get $i) (i32.const 0))
      (then
        (local.set $hfsq (f64.mul (f64.mul (f64.const 0.5) (local.get $f)) (local.get $f)))
        (if (i32.eqz (local.get $k))
          (then (return (f64.sub (local.get $f)
            (f64.sub (local.get $hfsq) (f64.mul (local.get $s) (f64.add (local.get $hfsq) (local.get $r))))))))
        (return (f64.sub (f64.mul (local.get $dk) (f64.const 6.93147180369123816490e-01))
          (f64.sub
            (f64.sub (local.get $hfsq)
              (f64.add (f64.mul (local.get $s) (f64.add (local.get $hfsq) (local.get $r)))
                (f64.mul (local.get $dk) (f64.const 1.90821492927058770002e-10))))
            (local.get $f))))))
    (if (i32.eqz (local.get $k))
      (then (return (f64.sub (local.get $f) (f64.mul (local.get $s) (f64.sub (local.get $f) (local.get $r)))))))
    (f64.sub (f64.mul (local.get $dk) (f64.const 6.93147180369123816490e-01))
      (f64.sub
        (f64.sub (f64.mul (local.get $s) (f64.sub (local.get $f) (local.get $r)))
          (f64.mul (local.get $dk) (f64.const 1.90821492927058770002e-10)))
        (local.get $f))))

  ;; Selection sampling with mulberry32 (random.ts RandomStream.sampleAscending, the same draws):
  ;; walks the n row indices at $rows, drawing one float per row from the stream at $state,
  ;; and keeps a row when draw x (rows left) < (rows still wanted), until $size rows are at $out
  ;; in their order. Returns the stream's state after the last draw.
  (func (export "sampleAscending")
    (param $rows i32) (param $n i32) (param $size i32) (param $state i32) (param $out i32) (result i32)
    (local $i i32) (local $taken i32) (local $t i32)
    (block $full
      (loop $next
        (br_if $full (i32.ge_u (local.get $taken) (local.get $size)))
        (local.set $state (i32.add (local.get $state) (i32.const 0x6d2b79f5)))
        (local.set $t (local.get $state))
        (local.set $t (i32.mul (i32.xor (local.get $t) (i32.shr_u (local.get $t) (i32.const 15))) (i32.or (local.get $t) (i32.const 1))))
        (local.set $t
          (i32.xor (local.get $t)
            (i32.add (local.get $t)
              (i32.mul (i32.xor (local.get $t) (i32.shr_u (local.get $t) (i32.const 7))) (i32.or (local.get $t) (i32.const 61))))))
        ;; the row is written either way and kept by counting it: no branch to mispredict
        (i32.store (i32.add (local.get $out) (i32.shl (local.get $taken) (i32.const 2)))
          (i32.load (i32.add (local.get $rows) (i32.shl (local.get $i) (i32.const 2)))))
        (local.set $taken (i32.add (local.get $taken)
          (f64.lt
            (f64.mul
              (f64.div (f64.convert_i32_u (i32.xor (local.get $t) (i32.shr_u (local.get $t) (i32.const 14)))) (f64.const 4294967296))
              (f64.convert_i32_u (i32.sub (local.get $n) (local.get $i))))
            (f64.convert_i32_u (i32.sub (local.get $size) (local.get $taken))))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $next)))
    (local.get $state))

  ;; Scoring with a compiled model (compiled-model.ts), the same floats as its JavaScript walk:
  ;; float32 values, x >= threshold right (NaN left) at a plain numeric node, the unusual nodes
  ;; (flags: 1 NaN goes right, 2 categorical) as unusualGoesRight, margins summed in float32.
  (func (export "setModel")
    (param $stride i32) (param $nodes i32) (param $categoryBits i32) (param $categoryWords i32)
    (param $value i32) (param $step i32) (param $roots i32) (param $depths i32) (param $trees i32)
    (global.set $stride (local.get $stride))
    (global.set $nodes (local.get $nodes))
    (global.set $categoryBits (local.get $categoryBits))
    (global.set $categoryCodes (f32.convert_i32_u (i32.shl (local.get $categoryWords) (i32.const 5))))
    (global.set $value (local.get $value))
    (global.set $step (local.get $step))
    (global.set $roots (local.get $roots))
    (global.set $depths (local.get $depths))
    (global.set $trees (local.get $trees)))

  ;; 1 if the row whose values start at byte $row goes right at the node whose record is at
  ;; $record, else 0, at a node with flags ($walk tests plain numeric nodes itself).
  (func $unusualGoesRight (param $row i32) (param $record i32) (result i32)
    (local $x f32) (local $flag i32) (local $code i32)
    (local.set $x
      (f32.load (i32.add (local.get $row)
        (i32.shl (i32.and (i32.load (local.get $record)) (i32.const 0xffffff)) (i32.const 2)))))
    (local.set $flag (i32.load8_u offset=3 (local.get $record)))
    (if (f32.ne (local.get $x) (local.get $x)) (then (return (i32.and (local.get $flag) (i32.const 1)))))
    (if (i32.eqz (i32.and (local.get $flag) (i32.const 2)))
      (then (return (f32.ge (local.get $x) (f32.load offset=4 (local.get $record))))))
    ;; a category code: a whole number in 0..codes-1, else left
    (if (i32.eqz (i32.and (f32.eq (f32.trunc (local.get $x)) (local.get $x))
                          (i32.and (f32.ge (local.get $x) (f32.const 0)) (f32.lt (local.get $x) (global.get $categoryCodes)))))
      (then (return (i32.const 0))))
    (local.set $code (i32.trunc_f32_u (local.get $x)))
    (i32.and
      (i32.shr_u
        (i32.load (i32.add (global.get $categoryBits)
          (i32.shl
            (i32.add (i32.load offset=12 (local.get $record)) (i32.shr_u (local.get $code) (i32.const 5)))
            (i32.const 2))))
        (i32.and (local.get $code) (i32.const 31)))
      (i32.const 1)))

  ;; Leaf values of a second model with the same trees (the uncalibrated one: calibration only
  ;; scales leaf values), whose margins addMargins adds at $margins2 from the same walk.
  (func (export "setSecondValues") (param $value2 i32)
    (global.set $value2 (local.get $value2)))

  ;; Adds every tree's leaf value to the margins (f64 at $margins) of rows $from..$to (at most a
  ;; block) of the row-major float32 values at $values. A tree is walked a level at a time over
  ;; all the block's rows, each row's node kept at $nodes (i32 per row): the rows' steps do not
  ;; wait on each other, where a row's own steps do (each needs the node before it).
  ;; With $margins2 (not 0) the second model's leaf values go onto those margins too.
  (func (export "addMargins") (param $values i32) (param $from i32) (param $to i32) (param $margins i32) (param $nodes i32) (param $margins2 i32)
    (call $walk (local.get $values) (local.get $from) (local.get $to) (local.get $margins) (i32.const 0) (local.get $nodes) (local.get $margins2)))

  ;; addMargins that also credits every step to its feature: the f64 at
  ;; $credit + ((row - $from) * stride + feature) * 8 adds the step's change in node means.
  (func (export "addCredits") (param $values i32) (param $from i32) (param $to i32) (param $margins i32) (param $credit i32) (param $nodes i32)
    (call $walk (local.get $values) (local.get $from) (local.get $to) (local.get $margins) (local.get $credit) (local.get $nodes) (i32.const 0)))

  ;; Both walks; $credit 0 credits nothing, $margins2 0 adds no second model's values.
  (func $walk (param $values i32) (param $from i32) (param $to i32) (param $margins i32) (param $credit i32) (param $nodes i32) (param $margins2 i32)
    (local $t i32) (local $d i32) (local $depth i32) (local $root i32) (local $rowBytes i32) (local $creditBytes i32)
    (local $slot i32) (local $end i32) (local $rowAt i32) (local $node i32) (local $right i32) (local $cell i32) (local $at i32)
    (local $at2 i32) (local $record i32) (local $word i32)
    (local.set $rowBytes (i32.shl (global.get $stride) (i32.const 2)))
    (local.set $creditBytes (i32.shl (global.get $stride) (i32.const 3)))
    (local.set $end (i32.add (local.get $nodes) (i32.shl (i32.sub (local.get $to) (local.get $from)) (i32.const 2))))
    (local.set $t (i32.const 0))
    (block $trees_done
      (loop $next_tree
        (br_if $trees_done (i32.ge_u (local.get $t) (global.get $trees)))
        (local.set $depth (i32.load (i32.add (global.get $depths) (i32.shl (local.get $t) (i32.const 2)))))
        (local.set $root (i32.load (i32.add (global.get $roots) (i32.shl (local.get $t) (i32.const 2)))))
        (local.set $slot (local.get $nodes))
        (block $started
          (loop $start
            (br_if $started (i32.ge_u (local.get $slot) (local.get $end)))
            (i32.store (local.get $slot) (local.get $root))
            (local.set $slot (i32.add (local.get $slot) (i32.const 4)))
            (br $start)))
        (local.set $d (i32.const 0))
        (block $levels_done
          (loop $next_level
            (br_if $levels_done (i32.ge_u (local.get $d) (local.get $depth)))
            (local.set $slot (local.get $nodes))
            (local.set $rowAt (i32.add (local.get $values) (i32.mul (local.get $from) (local.get $rowBytes))))
            (local.set $cell (i32.const 0))
            (block $rows_done
              (loop $next_row
                (br_if $rows_done (i32.ge_u (local.get $slot) (local.get $end)))
                (local.set $node (i32.load (local.get $slot)))
                (local.set $record (i32.add (global.get $nodes) (i32.shl (local.get $node) (i32.const 4))))
                (local.set $word (i32.load (local.get $record)))
                (local.set $right
                  (if (result i32) (i32.lt_u (local.get $word) (i32.const 0x1000000))
                    (then
                      (f32.ge
                        (f32.load (i32.add (local.get $rowAt) (i32.shl (local.get $word) (i32.const 2))))
                        (f32.load offset=4 (local.get $record))))
                    (else (call $unusualGoesRight (local.get $rowAt) (local.get $record)))))
                (if (local.get $credit)
                  (then
                    (local.set $at
                      (i32.add (i32.add (local.get $credit) (local.get $cell))
                        (i32.shl (i32.and (local.get $word) (i32.const 0xffffff)) (i32.const 3))))
                    (f64.store (local.get $at)
                      (f64.add (f64.load (local.get $at))
                        (f64.load (i32.add (global.get $step)
                          (i32.shl (i32.add (i32.shl (local.get $node) (i32.const 1)) (local.get $right)) (i32.const 3))))))))
                (i32.store (local.get $slot) (i32.add (i32.load offset=8 (local.get $record)) (local.get $right)))
                (local.set $slot (i32.add (local.get $slot) (i32.const 4)))
                (local.set $rowAt (i32.add (local.get $rowAt) (local.get $rowBytes)))
                (local.set $cell (i32.add (local.get $cell) (local.get $creditBytes)))
                (br $next_row)))
            (local.set $d (i32.add (local.get $d) (i32.const 1)))
            (br $next_level)))
        ;; each row's leaf value onto its margin, in float32
        (local.set $slot (local.get $nodes))
        (local.set $at (i32.add (local.get $margins) (i32.shl (local.get $from) (i32.const 3))))
        (block $added
          (loop $add
            (br_if $added (i32.ge_u (local.get $slot) (local.get $end)))
            (f64.store (local.get $at)
              (f64.promote_f32 (f32.demote_f64
                (f64.add (f64.load (local.get $at))
                  (f64.load (i32.add (global.get $value) (i32.shl (i32.load (local.get $slot)) (i32.const 3))))))))
            (if (local.get $margins2)
              (then
                (local.set $at2 (i32.add (local.get $at) (i32.sub (local.get $margins2) (local.get $margins))))
                (f64.store (local.get $at2)
                  (f64.promote_f32 (f32.demote_f64
                    (f64.add (f64.load (local.get $at2))
                      (f64.load (i32.add (global.get $value2) (i32.shl (i32.load (local.get $slot)) (i32.const 3))))))))))
            (local.set $slot (i32.add (local.get $slot) (i32.const 4)))
            (local.set $at (i32.add (local.get $at) (i32.const 8)))
            (br $add)))
        (local.set $t (i32.add (local.get $t) (i32.const 1)))
        (br $next_tree))))

  ;; Keeps each of $n rows' $k largest positive credits (f64, $stride per row from $credit),
  ;; largest first, ties to the lower feature: their features (i16, -1 = empty) at $slots and
  ;; values at $kept, $k per row; the credits are zeroed for the next block as they are read.
  (func (export "keepLargest") (param $credit i32) (param $n i32) (param $slots i32) (param $kept i32) (param $k i32)
    (local $end i32) (local $f i32) (local $value f64) (local $slot i32) (local $s i32)
    (local.set $end (i32.add (local.get $credit) (i32.shl (i32.mul (local.get $n) (global.get $stride)) (i32.const 3))))
    (block $rows_done
      (loop $next_row
        (br_if $rows_done (i32.ge_u (local.get $credit) (local.get $end)))
        (local.set $s (i32.const 0))
        (block $emptied
          (loop $empty
            (br_if $emptied (i32.ge_u (local.get $s) (local.get $k)))
            (i32.store16 (i32.add (local.get $slots) (i32.shl (local.get $s) (i32.const 1))) (i32.const -1))
            (f64.store (i32.add (local.get $kept) (i32.shl (local.get $s) (i32.const 3))) (f64.const 0))
            (local.set $s (i32.add (local.get $s) (i32.const 1)))
            (br $empty)))
        (local.set $f (i32.const 0))
        (block $features_done
          (loop $next_feature
            (br_if $features_done (i32.ge_u (local.get $f) (global.get $stride)))
            (local.set $value (f64.load (local.get $credit)))
            (f64.store (local.get $credit) (f64.const 0))
            (local.set $credit (i32.add (local.get $credit) (i32.const 8)))
            (local.set $f (i32.add (local.get $f) (i32.const 1)))
            (br_if $next_feature (i32.eqz (f64.gt (local.get $value) (f64.const 0))))
            ;; the first slot (from the end) this value does not beat: empty or not smaller
            (local.set $slot (local.get $k))
            (block $found
              (loop $look
                (br_if $found (i32.eqz (local.get $slot)))
                (br_if $found
                  (i32.and
                    (i32.ge_s (i32.load16_s (i32.add (local.get $slots) (i32.shl (i32.sub (local.get $slot) (i32.const 1)) (i32.const 1)))) (i32.const 0))
                    (f64.ge (f64.load (i32.add (local.get $kept) (i32.shl (i32.sub (local.get $slot) (i32.const 1)) (i32.const 3))))
                            (local.get $value))))
                (local.set $slot (i32.sub (local.get $slot) (i32.const 1)))
                (br $look)))
            (br_if $next_feature (i32.ge_u (local.get $slot) (local.get $k)))
            (local.set $s (i32.sub (local.get $k) (i32.const 1)))
            (block $shifted
              (loop $shift
                (br_if $shifted (i32.le_s (local.get $s) (local.get $slot)))
                (i32.store16 (i32.add (local.get $slots) (i32.shl (local.get $s) (i32.const 1)))
                  (i32.load16_s (i32.add (local.get $slots) (i32.shl (i32.sub (local.get $s) (i32.const 1)) (i32.const 1)))))
                (f64.store (i32.add (local.get $kept) (i32.shl (local.get $s) (i32.const 3)))
                  (f64.load (i32.add (local.get $kept) (i32.shl (i32.sub (local.get $s) (i32.const 1)) (i32.const 3)))))
                (local.set $s (i32.sub (local.get $s) (i32.const 1)))
                (br $shift)))
            (i32.store16 (i32.add (local.get $slots) (i32.shl (local.get $slot) (i32.const 1)))
              (i32.sub (local.get $f) (i32.const 1)))
            (f64.store (i32.add (local.get $kept) (i32.shl (local.get $slot) (i32.const 3))) (local.get $value))
            (br $next_feature)))
        (local.set $slots (i32.add (local.get $slots) (i32.shl (local.get $k) (i32.const 1))))
        (local.set $kept (i32.add (local.get $kept) (i32.shl (local.get $k) (i32.const 3))))
        (br $next_row))))

  ;; Exact TreeSHAP (tree-shap.ts ShapTables, copied into this memory by setShapModel): per inner
  ;; node a 32-byte record, pre-order within its tree: feature with flags in the top byte (bit 0
  ;; NaN goes right, bit 1 categorical, bits 2..5 the count n of distinct features on the path to
  ;; its children), threshold (f32), where its distinct features start (i32 index), its
  ;; categorical right-set (as in the compiled model, so $unusualGoesRight reads both), its
  ;; feature's slot on the path with bit 8 set when the feature is new there, its left and right
  ;; child (the tree's own node number, or -1 - the leaf's table entry), and its pair table entry
  ;; (-1: its children are not both leaves). Table entries are f64 indices; shares n per entry.
  (global $shapNodes (mut i32) (i32.const 0))
  (global $shapDistinct (mut i32) (i32.const 0))
  (global $shapTable (mut i32) (i32.const 0))
  (global $shapTreeStart (mut i32) (i32.const 0))
  (global $shapTreeSize (mut i32) (i32.const 0))
  (global $shapTrees (mut i32) (i32.const 0))
  (global $shapMasks (mut i32) (i32.const 0))

  (func (export "setShapModel")
    (param $stride i32) (param $nodes i32) (param $categoryBits i32) (param $categoryWords i32)
    (param $distinct i32) (param $table i32) (param $treeStart i32) (param $treeSize i32) (param $trees i32) (param $masks i32)
    (global.set $stride (local.get $stride))
    (global.set $shapNodes (local.get $nodes))
    (global.set $categoryBits (local.get $categoryBits))
    (global.set $categoryCodes (f32.convert_i32_u (i32.shl (local.get $categoryWords) (i32.const 5))))
    (global.set $shapDistinct (local.get $distinct))
    (global.set $shapTable (local.get $table))
    (global.set $shapTreeStart (local.get $treeStart))
    (global.set $shapTreeSize (local.get $treeSize))
    (global.set $shapTrees (local.get $trees))
    (global.set $shapMasks (local.get $masks)))

  ;; Adds the n shares at table entry $entry to the f64 values at $out by feature (the distinct
  ;; features from index $distinct).
  (func $addShares (param $out i32) (param $entry i32) (param $distinct i32) (param $n i32)
    (local $share i32) (local $feature i32) (local $end i32) (local $at i32)
    (local.set $share (i32.add (global.get $shapTable) (i32.shl (local.get $entry) (i32.const 3))))
    (local.set $feature (i32.add (global.get $shapDistinct) (i32.shl (local.get $distinct) (i32.const 2))))
    (local.set $end (i32.add (local.get $feature) (i32.shl (local.get $n) (i32.const 2))))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $feature) (local.get $end)))
        (local.set $at (i32.add (local.get $out) (i32.shl (i32.load (local.get $feature)) (i32.const 3))))
        (f64.store (local.get $at) (f64.add (f64.load (local.get $at)) (f64.load (local.get $share))))
        (local.set $share (i32.add (local.get $share) (i32.const 8)))
        (local.set $feature (i32.add (local.get $feature) (i32.const 4)))
        (br $next))))

  ;; Adds every feature's SHAP value for rows $from..$to of the row-major float32 values at
  ;; $values to the f64 at $out + ((row - $from) * stride + feature) * 8, tree by tree over the
  ;; block (one tree's tables stay in cache across its rows). A node's children's masks (which
  ;; path features the row agrees with) follow from its own: the side the row takes sets a new
  ;; feature's bit, the other side clears a known one's.
  (func (export "addShap") (param $values i32) (param $from i32) (param $to i32) (param $out i32)
    (local $t i32) (local $first i32) (local $size i32) (local $row i32) (local $rowAt i32) (local $outAt i32)
    (local $i i32) (local $record i32) (local $word i32) (local $right i32) (local $mask i32) (local $n i32)
    (local $distinct i32) (local $pair i32) (local $slot i32) (local $bit i32) (local $taken i32) (local $other i32)
    (local $child i32) (local $childMask i32) (local $side i32)
    (local.set $t (i32.const 0))
    (block $trees_done
      (loop $next_tree
        (br_if $trees_done (i32.ge_u (local.get $t) (global.get $shapTrees)))
        (local.set $first (i32.load (i32.add (global.get $shapTreeStart) (i32.shl (local.get $t) (i32.const 2)))))
        (local.set $size (i32.load (i32.add (global.get $shapTreeSize) (i32.shl (local.get $t) (i32.const 2)))))
        (local.set $row (local.get $from))
        (block $rows_done
          (loop $next_row
            (br_if $rows_done (i32.ge_u (local.get $row) (local.get $to)))
            (local.set $rowAt (i32.add (local.get $values) (i32.shl (i32.mul (local.get $row) (global.get $stride)) (i32.const 2))))
            (local.set $outAt (i32.add (local.get $out)
              (i32.shl (i32.mul (i32.sub (local.get $row) (local.get $from)) (global.get $stride)) (i32.const 3))))
            (i32.store (global.get $shapMasks) (i32.const 0))
            (local.set $i (i32.const 0))
            (block $nodes_done
              (loop $next_node
                (br_if $nodes_done (i32.ge_u (local.get $i) (local.get $size)))
                (local.set $record (i32.add (global.get $shapNodes) (i32.shl (i32.add (local.get $first) (local.get $i)) (i32.const 5))))
                (local.set $word (i32.load (local.get $record)))
                (local.set $right
                  (if (result i32) (i32.eqz (i32.and (local.get $word) (i32.const 0x3000000)))
                    (then
                      (f32.ge
                        (f32.load (i32.add (local.get $rowAt) (i32.shl (i32.and (local.get $word) (i32.const 0xffffff)) (i32.const 2))))
                        (f32.load offset=4 (local.get $record))))
                    (else (call $unusualGoesRight (local.get $rowAt) (local.get $record)))))
                (local.set $mask (i32.load (i32.add (global.get $shapMasks) (i32.shl (local.get $i) (i32.const 2)))))
                (local.set $n (i32.and (i32.shr_u (local.get $word) (i32.const 26)) (i32.const 15)))
                (local.set $distinct (i32.load offset=8 (local.get $record)))
                (local.set $pair (i32.load offset=28 (local.get $record)))
                (if (i32.ge_s (local.get $pair) (i32.const 0))
                  (then
                    (call $addShares (local.get $outAt)
                      (i32.add (local.get $pair)
                        (i32.mul (i32.add (i32.shl (local.get $mask) (i32.const 1)) (local.get $right)) (local.get $n)))
                      (local.get $distinct) (local.get $n)))
                  (else
                    (local.set $slot (i32.load offset=16 (local.get $record)))
                    (local.set $bit (i32.shl (i32.const 1) (i32.and (local.get $slot) (i32.const 255))))
                    (if (i32.and (local.get $slot) (i32.const 256))
                      (then
                        (local.set $taken (i32.or (local.get $mask) (local.get $bit)))
                        (local.set $other (local.get $mask)))
                      (else
                        (local.set $taken (local.get $mask))
                        (local.set $other (i32.and (local.get $mask) (i32.xor (local.get $bit) (i32.const -1))))))
                    (local.set $side (i32.const 0))
                    (block $sides_done
                      (loop $next_side
                        (br_if $sides_done (i32.ge_u (local.get $side) (i32.const 2)))
                        (local.set $child (i32.load offset=20 (i32.add (local.get $record) (i32.shl (local.get $side) (i32.const 2)))))
                        (local.set $childMask
                          (select (local.get $taken) (local.get $other) (i32.eq (local.get $side) (local.get $right))))
                        (if (i32.ge_s (local.get $child) (i32.const 0))
                          (then
                            (i32.store (i32.add (global.get $shapMasks) (i32.shl (local.get $child) (i32.const 2))) (local.get $childMask)))
                          (else
                            (call $addShares (local.get $outAt)
                              (i32.add (i32.sub (i32.const -1) (local.get $child)) (i32.mul (local.get $childMask) (local.get $n)))
                              (local.get $distinct) (local.get $n))))
                        (local.set $side (i32.add (local.get $side) (i32.const 1)))
                        (br $next_side)))))
                (local.set $i (i32.add (local.get $i) (i32.const 1)))
                (br $next_node)))
            (local.set $row (i32.add (local.get $row) (i32.const 1)))
            (br $next_row)))
        (local.set $t (i32.add (local.get $t) (i32.const 1)))
        (br $next_tree))))
)
