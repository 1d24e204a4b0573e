;; The per-row inner loops of boosting in WebAssembly: the gradient-histogram count (histograms.ts),
;; the split of a node's rows (boosting.ts TreeGrower) and the margin walk after each round
;; (boosting.ts MarginWalker). V8 checks the bounds of every
;; typed-array access in the JavaScript loops, while WebAssembly's memory accesses are guarded by
;; the address space. Compiled to histogram-kernel.wasm by
;; `npx tsx scripts/build-wasm.ts`; tests/unit/histograms.test.ts checks that the two match.
;; Addresses are byte offsets into the memory the instance imports (for the count, one shared
;; memory the training thread and its helper thread both count in).
;; A histogram cell is (gradient sum, hessian sum, row count) as three f64, 24 bytes.
(module
  (import "env" "memory" (memory 1 65536 shared))

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

  ;; Adds each of n rows' leaf value to its margin (float32, as Math.fround): the leaf found by
  ;; $depth steps through $next (u16 per node x bin: the child, a leaf leading to itself) from
  ;; the row's bins ($bins + row * $features, one byte per feature), $feature (i32 per node)
  ;; naming the bin each node reads. $value: f64 per node; $margin: f64 per row.
  (func (export "addLeafValues")
    (param $rows i32) (param $n i32) (param $bins i32) (param $features i32) (param $next i32)
    (param $feature i32) (param $value i32) (param $depth i32) (param $margin i32)
    (local $end i32) (local $row i32) (local $base i32) (local $node i32) (local $step i32) (local $at i32)
    (local.set $end (i32.add (local.get $rows) (i32.shl (local.get $n) (i32.const 2))))
    (block $done
      (loop $next_row
        (br_if $done (i32.ge_u (local.get $rows) (local.get $end)))
        (local.set $row (i32.load (local.get $rows)))
        (local.set $base (i32.add (local.get $bins) (i32.mul (local.get $row) (local.get $features))))
        (local.set $node (i32.const 0))
        (local.set $step (i32.const 0))
        (block $walked
          (loop $next_step
            (br_if $walked (i32.ge_u (local.get $step) (local.get $depth)))
            (local.set $node
              (i32.load16_u
                (i32.add (local.get $next)
                  (i32.shl
                    (i32.add (i32.shl (local.get $node) (i32.const 8))
                      (i32.load8_u
                        (i32.add (local.get $base)
                          (i32.load (i32.add (local.get $feature) (i32.shl (local.get $node) (i32.const 2)))))))
                    (i32.const 1)))))
            (local.set $step (i32.add (local.get $step) (i32.const 1)))
            (br $next_step)))
        (local.set $at (i32.add (local.get $margin) (i32.shl (local.get $row) (i32.const 3))))
        (f64.store (local.get $at)
          (f64.promote_f32 (f32.demote_f64
            (f64.add (f64.load (local.get $at))
              (f64.load (i32.add (local.get $value) (i32.shl (local.get $node) (i32.const 3))))))))
        (local.set $rows (i32.add (local.get $rows) (i32.const 4)))
        (br $next_row))))
)
