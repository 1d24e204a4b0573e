"""Issue 17, item 2: the scoring month's window kept as additive state, measured against the
aggregation the features stage runs today (its own SQL files, read from activities/features) (docs/reuse.md, "Next month: the window as additive
state"). Not part of the product: it answers whether building it pays, and checks it is exact.

  .segflow/bench-venv/bin/python bench/additive-window/probe.py .segflow/bench/data-1000000x12/usage 2026-10

(the benchmark generates that folder: `npm run bench -- --sizes 1000000`). Prints, for the
month and the month before it, the seconds of: today's aggregation, the state computed from the
window's rows, the state advanced from last month's stored state, and writing the state; then
checks that the advanced state equals the cold one and the derived aggregates today's, every
column of every row (a value and its NULL-ness; doubles compared by their text, so -0.0 and 0.0
differ). Fastest of --repeat runs, alternated."""
import argparse
import os
import tempfile
import time

import duckdb

HERE = os.path.dirname(os.path.abspath(__file__))
FEATURES = os.path.join(HERE, '..', '..', 'activities', 'features', 'partition')


def sql(name):
    """This folder's SQL, or the features stage's own: today.sql is its window aggregation."""
    if name == 'today.sql':
        name = os.path.join(FEATURES, '02_aggregates.sql')
    with open(os.path.join(HERE, name)) as f:
        return f.read()


def add_months(month, delta):
    y, m = map(int, month.split('-'))
    m += delta
    y, m = y + (m - 1) // 12, (m - 1) % 12 + 1
    return f'{y:04d}-{m:02d}'


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('usage', help='folder of usage_month=YYYY-MM/ Parquet folders')
    parser.add_argument('month', help='the scoring month, YYYY-MM')
    parser.add_argument('--repeat', type=int, default=3)
    args = parser.parse_args()
    history = 6
    with tempfile.TemporaryDirectory() as tmp:
        con = duckdb.connect()
        # the checked month files the load leaves in a run folder: one per month, with the contract's columns
        files = []
        for k in range(history + 1):
            month = add_months(args.month, -k)
            path = os.path.join(tmp, f'usage-{month}.parquet')
            con.execute(
                f"COPY (SELECT * EXCLUDE (usage_month), false AS churn_label FROM read_parquet('{args.usage}/usage_month={month}/*.parquet')) "
                f"TO '{path}' (FORMAT parquet)"
            )
            files.append(path)
        con.execute('SET VARIABLE files = ?', [files])
        previous = os.path.join(tmp, 'previous-state.parquet')

        def at(month):
            con.execute(f"SET VARIABLE as_of = DATE '{month}-01'")
            con.execute(sql('window.sql'))
            con.execute(sql(os.path.join(FEATURES, '01_window.sql')))

        def timed(statement):
            started = time.perf_counter()
            con.execute(statement)
            return time.perf_counter() - started

        at(add_months(args.month, -1))
        con.execute(sql('state.sql'))
        written = [timed(f"COPY window_state TO '{previous}' (FORMAT parquet)") for _ in range(args.repeat)]
        con.execute(f"SET VARIABLE previous_state = '{previous}'")
        at(args.month)
        seconds = {'today': [], 'state from the window': [], 'state advanced': []}
        # each ends in a table of the aggregates, as the features stage keeps them
        for _ in range(args.repeat):
            seconds['today'].append(timed(sql('today.sql')))
            for label, state in (('state from the window', 'state.sql'), ('state advanced', 'advance.sql')):
                seconds[label].append(
                    timed(sql(state)) + timed(sql('derive.sql')) + timed('CREATE OR REPLACE TABLE derived AS FROM derived_aggregates')
                )
        for label, runs in seconds.items():
            print(f'{label}: {min(runs):.2f} s (runs: {", ".join(f"{s:.2f}" for s in runs)})')
        print(f'writing the state: {min(written):.2f} s, {os.path.getsize(previous) / 1e6:.0f} MB')

        def differing(left, right, keys):
            columns = [row[0] for row in con.execute(f'DESCRIBE {left}').fetchall()]
            same_types = con.execute(f'DESCRIBE {left}').fetchall() == con.execute(f'DESCRIBE {right}').fetchall()
            return same_types, {
                column: n
                for column in columns
                if (n := con.execute(
                    f'SELECT count(*) FROM {left} a FULL JOIN {right} b USING ({keys}) '
                    f'WHERE a.{column}::VARCHAR IS DISTINCT FROM b.{column}::VARCHAR'
                ).fetchone()[0])
            }

        con.execute(sql('today.sql'))
        aggregates = con.execute('SELECT count(*) FROM window_aggregates').fetchone()[0]
        con.execute(sql('state.sql'))
        con.execute('CREATE OR REPLACE TABLE cold_state AS FROM window_state')
        con.execute(sql('derive.sql'))
        same_types, diff = differing('window_aggregates', 'derived_aggregates', 'as_of, subscriber_id')
        print(f"aggregates derived from the state = today's: {aggregates:,} rows, same types {same_types}, differing columns {diff or 'none'}")
        con.execute(sql('advance.sql'))
        # the recharge dates are a set: compared in one order (a copy: derive.sql reads window_state)
        con.execute('CREATE OR REPLACE TABLE advanced_state AS FROM window_state')
        for table in ('cold_state', 'advanced_state'):
            con.execute(f'UPDATE {table} SET recharge_dates = list_sort(recharge_dates)')
        same_types, diff = differing('cold_state', 'advanced_state', 'as_of, subscriber_id')
        rows = con.execute('SELECT count(*) FROM cold_state').fetchone()[0]
        print(f'advanced state = cold state: {rows:,} rows, same types {same_types}, differing columns {diff or "none"}')
        con.execute(sql('derive.sql'))
        same_types, diff = differing('window_aggregates', 'derived_aggregates', 'as_of, subscriber_id')
        print(f"aggregates derived from the advanced state = today's: same types {same_types}, differing columns {diff or 'none'}")


if __name__ == '__main__':
    main()
