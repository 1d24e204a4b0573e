"""The Python peer of segflow's benchmark: the same steps on the same Parquet with DuckDB and
scikit-learn. Loads the run window into DuckDB, computes segflow's own feature SQL files (one partition),
fits KMeans on the standardised cluster features of every subscriber, a DecisionTreeClassifier and a
HistGradientBoostingClassifier on last month's subscribers (stratified holdout), scores everyone, and
prints one JSON object with the times, peak RSS and model quality."""

import argparse
import glob
import json
import os
import resource
import time

import duckdb
import numpy as np
from sklearn.cluster import KMeans
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import train_test_split
from sklearn.tree import DecisionTreeClassifier

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CLUSTER = ["ln(1 + arpu)", "ln(1 + mou)", "ln(1 + dou)", "ln(1 + sms)", "ln(1 + call_circle)", "ln(1 + tenure_months)", "sticky_services"]
CHURN = ["arpu", "mou", "dou", "sms", "frequency", "recency_days", "payment_delay_avg", "complaints_recent", "mou_trend", "dou_trend",
         "spend_trend", "recharge_trend", "spend_slope_rel", "spend_volatility", "tenure_months", "contract_months_left",
         "sticky_services", "call_circle", "stability_score"]


def add_months(month, delta):
    year, mon = map(int, month.split("-"))
    index = year * 12 + mon - 1 + delta
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--input", required=True)
    parser.add_argument("--month", required=True)
    parser.add_argument("--history", type=int, default=6)
    parser.add_argument("--k", type=int, default=6)
    parser.add_argument("--depth", type=int, default=6)
    parser.add_argument("--min-leaf", type=int, default=50)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--boost-trees", type=int, default=100)
    parser.add_argument("--boost-depth", type=int, default=5)
    parser.add_argument("--learning-rate", type=float, default=0.1)
    parser.add_argument("--boost-min-leaf", type=int, default=25)
    args = parser.parse_args()
    timings = {}
    start_all = time.perf_counter()

    first = add_months(args.month, -args.history)
    files = sorted(f for f in glob.glob(os.path.join(args.input, "**", "*.parquet"), recursive=True)
                   if not (m := next((p[len("usage_month="):] for p in f.split(os.sep) if p.startswith("usage_month=")), None)) or first <= m <= args.month)
    con = duckdb.connect(os.path.join(os.environ.get("TMPDIR", "/tmp"), f"segflow-peer-{os.getpid()}.duckdb"))
    try:
        t = time.perf_counter()
        con.execute("CREATE TABLE usage AS SELECT *, NULL::BOOLEAN AS churn_label FROM read_parquet(?, union_by_name = true, hive_partitioning = false)", [files])
        timings["load"] = time.perf_counter() - t

        t = time.perf_counter()
        con.execute("CREATE TABLE feature_months AS SELECT * FROM (VALUES (?::DATE, 'score'), (?::DATE, 'train')) t(as_of, purpose)",
                    [args.month + "-01", add_months(args.month, -1) + "-01"])
        # the values of domain/rules.ts and the default parameters (activities/features/feature_settings.sql);
        # the scales are 1: the generated input has every score's columns
        con.execute("""CREATE TABLE feature_settings AS SELECT ?::INTEGER AS history_months, false AS use_user_labels,
                       60.0 AS tenure_cap_months, 30.0 AS w_tenure,
                       25.0 AS w_contract, 10.0 AS w_broadband, 15.0 AS w_family_bundle, 100.0 AS call_circle_cap, 15.0 AS w_call_circle,
                       5.0 AS w_premium_number, 1.0 AS stability_scale, 0.4 AS star_spend, 0.2 AS star_frequency,
                       0.2 AS star_tenure, 0.1 AS star_payment_delay, 0.1 AS star_complaints, 1.0 AS star_scale""",
                    [args.history])
        def statements(path):
            """The file's statements, comment lines left out."""
            for statement in open(path).read().split(";\n"):
                body = "\n".join(line for line in statement.splitlines() if not line.strip().startswith("--")).strip()
                if body:
                    yield body

        def run_script(path):
            for statement in statements(path):
                con.execute(statement)

        # one partition, one bucket: the whole window in one aggregation pass; squares of amounts
        # as segflow makes them (activities/features.ts defineUnitsSquared)
        con.execute("CREATE TEMP MACRO in_feature_bucket(id) AS true")
        # segflow's labels leave out subscribers whose run-month rows were all quarantined
        # (activities/features/unreadable_in_run_month.sql); the peer checks no row
        con.execute("CREATE TEMP TABLE unreadable_in_run_month (subscriber_id VARCHAR)")
        (choose,) = statements(os.path.join(ROOT, "activities", "features", "units_squared_type.sql"))
        square_type = con.execute(choose).fetchone()[0]
        con.execute(f"CREATE TEMP MACRO units_squared(x) AS x::{square_type} * x::{square_type}")

        for folder in ("partition", "combined"):
            if folder == "combined":
                # one pass's rows kept as a table, as segflow keeps them (activities/features.ts)
                con.execute("CREATE TEMP TABLE subscriber_features AS FROM bucket_features")
                run_script(os.path.join(ROOT, "activities", "features", "bucket_written.sql"))
                con.execute("CREATE TEMP VIEW all_subscriber_features AS SELECT * FROM subscriber_features")
            for path in sorted(glob.glob(os.path.join(ROOT, "activities", "features", folder, "*.sql"))):
                run_script(path)
        # segflow writes these rows to features.parquet (activities/features.ts); the peer keeps a table
        con.execute("CREATE TABLE features AS SELECT * FROM feature_rows")
        timings["features"] = time.perf_counter() - t

        t = time.perf_counter()
        x = con.execute(f"SELECT {', '.join(f'({c})::DOUBLE AS c{i}' for i, c in enumerate(CLUSTER))} FROM features WHERE purpose = 'score' ORDER BY row_idx").fetchnumpy()
        data = np.column_stack([x[k] for k in x])
        data = (data - data.mean(axis=0)) / np.where(data.std(axis=0) > 0, data.std(axis=0), 1)
        timings["cluster_read"] = time.perf_counter() - t
        t = time.perf_counter()
        kmeans = KMeans(n_clusters=args.k, init="k-means++", n_init=1, tol=1e-6, random_state=args.seed).fit(data)
        timings["cluster"] = time.perf_counter() - t

        t = time.perf_counter()
        train = con.execute(f"SELECT {', '.join(f'{c}::DOUBLE AS {c}' for c in CHURN)}, churned_next_month::INTEGER AS label FROM features WHERE purpose = 'train' ORDER BY row_idx").fetchnumpy()
        features = np.nan_to_num(np.column_stack([train[c] for c in CHURN]))
        labels = train["label"]
        x_train, x_hold, y_train, y_hold = train_test_split(features, labels, test_size=0.25, stratify=labels, random_state=args.seed)
        t_fit = time.perf_counter()
        tree = DecisionTreeClassifier(max_depth=args.depth, min_samples_leaf=args.min_leaf, random_state=args.seed).fit(x_train, y_train)
        timings["tree_train"] = time.perf_counter() - t_fit
        auc = roc_auc_score(y_hold, tree.predict_proba(x_hold)[:, 1])
        # the boosted peer: same trees, depth, learning rate, min leaf and early stopping share as segflow's ensemble
        t_fit = time.perf_counter()
        hgb = HistGradientBoostingClassifier(max_iter=args.boost_trees, max_depth=args.boost_depth, learning_rate=args.learning_rate,
                                             max_leaf_nodes=None, min_samples_leaf=args.boost_min_leaf, early_stopping=True,
                                             validation_fraction=0.15, n_iter_no_change=10, random_state=args.seed).fit(x_train, y_train)
        timings["hgb_train"] = time.perf_counter() - t_fit
        hgb_auc = roc_auc_score(y_hold, hgb.predict_proba(x_hold)[:, 1])
        score = con.execute(f"SELECT {', '.join(f'{c}::DOUBLE AS {c}' for c in CHURN)} FROM features WHERE purpose = 'score' ORDER BY row_idx").fetchnumpy()
        score_x = np.nan_to_num(np.column_stack([score[c] for c in CHURN]))
        tree.predict_proba(score_x)
        t_score = time.perf_counter()
        hgb.predict_proba(score_x)
        timings["hgb_score"] = time.perf_counter() - t_score
        timings["churn"] = time.perf_counter() - t
        timings["total"] = time.perf_counter() - start_all
        print(json.dumps({
            "timings": timings,
            "rows": int(con.execute("SELECT count(*) FROM usage").fetchone()[0]),
            "subscribers": int(data.shape[0]),
            "kmeans_inertia": float(kmeans.inertia_),
            "kmeans_iterations": int(kmeans.n_iter_),
            "tree_holdout_auc": float(auc),
            "hgb_holdout_auc": float(hgb_auc),
            "hgb_iterations": int(hgb.n_iter_),
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "versions": {"duckdb": duckdb.__version__, "scikit-learn": __import__("sklearn").__version__, "numpy": np.__version__},
        }))
    finally:
        con.close()
        for suffix in ("", ".wal"):
            path = os.path.join(os.environ.get("TMPDIR", "/tmp"), f"segflow-peer-{os.getpid()}.duckdb{suffix}")
            if os.path.exists(path):
                os.remove(path)


if __name__ == "__main__":
    main()
