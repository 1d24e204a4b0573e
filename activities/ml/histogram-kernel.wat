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
)
