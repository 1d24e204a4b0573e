"""Compare segflow's published holdout metrics with HGB / XGBoost (NaN kept vs 0-filled, + missing indicators)
on the same training rows and the same holdout.

Usage: compare.py <variant> <snapshot dir> <features.parquet> [<truth.parquet>]
  <features.parquet>: the run's stored features (the load-features artifact under
  $SEGFLOW_HOME/store/cache/, `segflow cache list` names it); <truth.parquet>: generate.py's
  hidden truth, for the ceiling. Writes results_<variant>.csv in the working folder."""
import sys, json, numpy as np, pandas as pd, duckdb, xgboost as xgb
from sklearn.metrics import roc_auc_score, average_precision_score
from sklearn.ensemble import HistGradientBoostingClassifier
variant, snap, feats = sys.argv[1:4]
SEEDS = [0, 1, 2, 3, 4]
man = json.load(open(f'{snap}/manifest.json'))
cart = json.load(open(f'{snap}/churn_model.json'))
bst = xgb.Booster(model_file=f'{snap}/churn_model_xgboost.json')
names = bst.feature_names
meta = {f['name']: f for f in cart.get('features', [])}
# user features: manifest's mapping of names to user_i columns
uf = {}
i = 0
listed = {f['name'] for f in man['metrics']['churnFeatures']}
for f in man['metrics']['churnFeatures']:
    indicator = f['name'].endswith(' missing') and f['name'][: -len(' missing')] in listed
    if f['source'] == 'user' and not indicator:
        uf[f['name']] = f'user_{i}'; i += 1
df = duckdb.sql(f"FROM '{feats}' WHERE as_of = DATE '2026-10-01' AND churned_next_month IS NOT NULL").df()
hold = duckdb.sql(f"FROM '{snap}/holdout.parquet'").df()
def col(name):
    # segflow's missing indicator beside a user number with gaps: 1 where the number is missing
    if name.endswith(' missing') and name[: -len(' missing')] in names:
        return np.isnan(col(name[: -len(' missing')])).astype(float)
    if name in uf:
        c = df[uf[name]]
        if name.startswith('days since '):
            me = (pd.to_datetime(df.as_of) + pd.offsets.MonthEnd(0))
            c = (me - pd.to_datetime(c)).dt.days.astype(float)
        return c.astype(float).values
    if name in meta and meta[name].get('categorical'):
        cats = meta[name]['categories']
        return df[name].map({c: k for k, c in enumerate(cats)}).astype(float).values
    return df[name].astype(float).values
X = np.column_stack([col(n) for n in names])
y = df.churned_next_month.astype(int).values
ids = df.subscriber_id.values
cat_idx = [k for k, n in enumerate(names) if n in meta and meta[n].get('categorical')]
num_idx = [k for k in range(len(names)) if k not in cat_idx]
is_hold = np.isin(ids, hold.subscriber_id.values)
assert is_hold.sum() == len(hold), (is_hold.sum(), len(hold))
Xtr, ytr = X[~is_hold], y[~is_hold]
Xho, yho, idho = X[is_hold], y[is_hold], ids[is_hold]
h = hold.set_index('subscriber_id').loc[idho]
assert (h.churned.astype(int).values == yho).all()
X0 = lambda A: np.where(np.isnan(A) & np.isin(np.arange(A.shape[1]), num_idx)[None, :], 0.0, A)
gap_cols = [k for k in num_idx if np.isnan(X[:, k]).any() and f'{names[k]} missing' not in names]
def with_ind(A):
    return np.column_stack([X0(A)] + [np.isnan(A[:, k]).astype(float) for k in gap_cols]) if gap_cols else X0(A)
# sanity: the published XGBoost file on 0-filled holdout rows reproduces churn_score
dm = xgb.DMatrix(X0(Xho), feature_names=names, feature_types=bst.feature_types, enable_categorical=True)
p_pub = bst.predict(dm)
print(f'[{variant}] rebuild check: max |xgb file(0-filled) - churn_score| = {np.abs(p_pub - h.churn_score.values).max():.2e};'
      f' train rows {len(ytr)} ({ytr.sum()} churners), holdout {len(yho)} ({yho.sum()} churners); gap columns {[names[k] for k in gap_cols]}')
def top_prec(y, s, q=0.10):
    n = int(np.ceil(len(s) * q)); o = np.argsort(-s, kind='stable')[:n]; return y[o].mean()
base = yho.mean()
res = []
def rec(model, s):
    res.append(dict(model=model, auc=roc_auc_score(yho, s), prauc=average_precision_score(yho, s),
                    top10_prec=top_prec(yho, s), lift10=top_prec(yho, s) / base))
rec('segflow ensemble (published)', h.churn_score.values)
rec('segflow tree (published)', h.tree_score.values)
try:
    t = duckdb.sql(f"FROM '{sys.argv[4]}' WHERE month = DATE '2026-10-01'").df().set_index('subscriber_id')
    rec('oracle (true hazard)', t.loc[idho].p_churn_next.values)
except Exception as e:
    print('no truth', e)
cat_mask = np.zeros(X.shape[1], bool); cat_mask[cat_idx] = True
scores = {}
for seed in SEEDS:
    for label, tr, ho, cm in [('NaN', Xtr, Xho, cat_mask), ('0-filled', X0(Xtr), X0(Xho), cat_mask),
                              ('0-filled + missing indicators', with_ind(Xtr), with_ind(Xho),
                               np.concatenate([cat_mask, np.zeros(len(gap_cols), bool)]))]:
        if label.endswith('indicators') and not gap_cols: continue
        hgb = HistGradientBoostingClassifier(max_iter=100, max_depth=5, learning_rate=0.1, min_samples_leaf=25,
                    l2_regularization=1.0, early_stopping=True, validation_fraction=0.15, n_iter_no_change=10,
                    categorical_features=cm, random_state=seed)
        hgb.fit(tr, ytr); s = hgb.predict_proba(ho)[:, 1]
        scores.setdefault(f'HGB {label}', []).append(s)
        # XGBoost with segflow's parameters; 15% validation split for early stopping
        rng = np.random.default_rng(seed); val = rng.random(len(ytr)) < 0.15
        ft = ['c' if c else 'float' for c in cm]
        dtr = xgb.DMatrix(tr[~val], ytr[~val], feature_types=ft, enable_categorical=True)
        dva = xgb.DMatrix(tr[val], ytr[val], feature_types=ft, enable_categorical=True)
        b = xgb.train(dict(objective='binary:logistic', eta=0.1, max_depth=5, subsample=0.8, colsample_bytree=0.8,
                           reg_lambda=1.0, tree_method='hist', seed=seed, eval_metric='logloss', nthread=2),
                      dtr, num_boost_round=100, evals=[(dva, 'val')], early_stopping_rounds=10, verbose_eval=False)
        s = b.predict(xgb.DMatrix(ho, feature_types=ft, enable_categorical=True), iteration_range=(0, b.best_iteration + 1))
        scores.setdefault(f'XGB {label}', []).append(s)
for k, ss in scores.items():
    per = [dict(auc=roc_auc_score(yho, s), prauc=average_precision_score(yho, s), top10_prec=top_prec(yho, s)) for s in ss]
    per = pd.DataFrame(per)
    res.append(dict(model=k + f' (mean of {len(ss)} seeds)', auc=per.auc.mean(), auc_sd=per.auc.std(), prauc=per.prauc.mean(),
                    top10_prec=per.top10_prec.mean(), top10_sd=per.top10_prec.std(), lift10=per.top10_prec.mean() / base))
out = pd.DataFrame(res)
pd.set_option('display.width', 200)
print(out.round(4).to_string(index=False))
# paired bootstrap of AUC difference, seed-averaged scores
rng = np.random.default_rng(7)
avg = {k: np.mean(ss, axis=0) for k, ss in scores.items()}
pairs = [('HGB NaN', 'HGB 0-filled'), ('XGB NaN', 'XGB 0-filled'), ('HGB NaN', None)]
B = 1000; idx_all = np.arange(len(yho))
for a, b2 in pairs:
    sa = avg[a]; sb = avg[b2] if b2 else h.churn_score.values; nb = b2 or 'segflow ensemble'
    d = []
    for _ in range(B):
        ii = rng.choice(idx_all, len(idx_all))
        if yho[ii].min() == yho[ii].max(): continue
        d.append(roc_auc_score(yho[ii], sa[ii]) - roc_auc_score(yho[ii], sb[ii]))
    d = np.array(d)
    print(f'[{variant}] AUC({a}) - AUC({nb}) = {roc_auc_score(yho, sa) - roc_auc_score(yho, sb):+.4f}, bootstrap 95% [{np.percentile(d,2.5):+.4f}, {np.percentile(d,97.5):+.4f}]')
out.to_csv(f'results_{variant}.csv', index=False)
