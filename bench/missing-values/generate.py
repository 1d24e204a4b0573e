"""Generate own extracts with signal-carrying gaps for the segflow missing-value study.

Usage: generate.py <variant> <outdir>   variant in {A, B, C}; GEN_SEED=<n> for another draw
  writes <outdir>/usage.csv (A, C) or usage.parquet (B), and the hidden truth beside <outdir>
  A: app_sessions MNAR (blank = app never installed, those churn ~3x; 0 is a common real value),
     nps_score with 25% gaps completely at random (value weakly predictive, gap no signal). CSV.
  B: balance_change (negative / 0 / positive; 0 common; 20% blank = no prepaid wallet, blank churn ~2.4x),
     promo_end_date (date, 40% blank = no promo; promo ended 0-90 days ago -> churn up;
     blank maps to 'days since' = 0, i.e. 'ended at month end'). Parquet.
  C: control: same process as A+B columns, nobody missing anything (everyone has the app and a wallet and a promo). CSV.
Monthly hazard: logit = -4.0 + 0.6 z + 0.35 complaints + column effects; churn at month m = no rows from m+1.
"""
import sys, numpy as np, pandas as pd, os, datetime as dt, duckdb
variant, out = sys.argv[1], sys.argv[2]
rng = np.random.default_rng({'A': 1, 'B': 2, 'C': 3}[variant] + int(os.environ.get('GEN_SEED', '0')))
N = 40000
months = pd.period_range('2026-02', '2026-11', freq='M')
M = len(months)
z = rng.normal(size=N)                       # latent propensity
base_voice = rng.lognormal(5.0, 0.8, N)
base_data = rng.lognormal(8.0, 1.2, N)
base_spend = rng.lognormal(3.8, 0.5, N)
tenure0 = rng.integers(0, 120, N)
join = np.where(rng.random(N) < 0.1, rng.integers(1, M - 2, N), 0)   # 10% join later
region = rng.choice(['north', 'south', 'east', 'west'], N)
grid = np.array([f'{r}-{g}' for r, g in zip(region, rng.integers(1, 6, N))])
has_app = rng.random(N) >= (0.30 if variant == 'A' else 0.0)
app_rate = rng.gamma(2.0, 6.0, N)             # sessions per month for installed users
has_wallet = rng.random(N) >= (0.20 if variant == 'B' else 0.0)
bal_sd = rng.lognormal(3.0, 0.5, N)
has_promo = rng.random(N) >= (0.40 if variant == 'B' else 0.0)
promo_end_m = rng.integers(-6, M + 6, N)      # month index the promo ends
promo_end_day = rng.integers(1, 29, N)
nps_true = np.clip(np.round(7 - 1.2 * z + rng.normal(0, 2, N)), 0, 10)

alive = np.ones(N, bool)
rows = []
churn_month = np.full(N, -1)
for m in range(M):
    active = alive & (join <= m)
    idx = np.where(active)[0]
    n = len(idx)
    decline = np.exp(-0.25 * np.clip(z[idx], 0, None) * m / M)
    voice = np.round(base_voice[idx] * decline * rng.lognormal(0, 0.25, n), 1)
    data = np.round(base_data[idx] * decline * rng.lognormal(0, 0.3, n), 1)
    spend = np.round(base_spend[idx] * rng.lognormal(0, 0.1, n), 2)
    complaints = rng.poisson(0.15 * np.exp(0.5 * z[idx]))
    tenure = tenure0[idx] + m - join[idx]
    # app sessions: installed users have zero-inflated counts (40% of months 0)
    sess = np.where(rng.random(n) < 0.4, 0, rng.poisson(app_rate[idx]))
    sess = sess.astype(float)
    # balance change: 25% exactly 0, else normal around a subscriber-specific sd, drained by risky ones
    bc = np.where(rng.random(n) < 0.25, 0.0, np.round(rng.normal(-8 * z[idx], bal_sd[idx]), 2))
    # promo end date, days since (end of month m) -> negative if ahead
    month_end = (months[m].end_time.normalize()).date()
    pe_period = months[0] + 0  # anchor
    pe_dates = np.array([ (months[0] + int(k)).start_time.date() + dt.timedelta(days=int(d) - 1)
                          for k, d in zip(promo_end_m[idx], promo_end_day[idx])])
    days_since = np.array([(month_end - d).days for d in pe_dates])
    nps = nps_true[idx] + 0
    # hazard
    logit = -4.0 + 0.6 * z[idx] + 0.35 * complaints
    if variant in ('A', 'C'):
        logit += np.where(~has_app[idx], 1.25, np.where(sess == 0, 0.25, -0.015 * np.minimum(sess, 40)))
    if variant in ('B', 'C'):
        logit += np.where(~has_wallet[idx], 0.9, -0.012 * np.clip(bc, -80, 80))
        logit += np.where(~has_promo[idx], 0.0,
                  np.where((days_since >= 0) & (days_since <= 90), 1.2,
                   np.where((days_since < 0) & (days_since >= -30), 0.5, 0.0)))
    p = 1 / (1 + np.exp(-logit))
    churn = rng.random(n) < p
    df = pd.DataFrame({
        'subscriber_id': [f'S{i:06d}' for i in idx],
        'month': months[m].start_time.date(),
        'voice_minutes': voice, 'data_mb': data, 'spend': spend, 'tenure_months': tenure,
        'complaints': complaints, 'region': region[idx], 'grid': grid[idx],
    })
    if variant == 'A':
        df['app_sessions'] = np.where(has_app[idx], sess, np.nan)
        df['nps_score'] = np.where(rng.random(n) < 0.25, np.nan, nps)
    elif variant == 'B':
        df['balance_change'] = np.where(has_wallet[idx], bc, np.nan)
        df['promo_end_date'] = pd.Series(pe_dates).where(has_promo[idx], None).values
    else:
        df['app_sessions'] = sess
        df['nps_score'] = nps
        df['balance_change'] = bc
        df['promo_end_date'] = pe_dates
    # hidden truth for analysis (not written to the extract)
    df_truth = pd.DataFrame({'subscriber_id': df.subscriber_id, 'month': df.month, 'p_churn_next': p,
                             'churn_next': churn, 'has_app': has_app[idx], 'has_wallet': has_wallet[idx],
                             'has_promo': has_promo[idx]})
    rows.append((df, df_truth))
    if m < M - 1:
        alive[idx[churn]] = False
        churn_month[idx[churn]] = m
os.makedirs(out, exist_ok=True)
data = pd.concat([r[0] for r in rows], ignore_index=True)
truth = pd.concat([r[1] for r in rows], ignore_index=True)
# Parquet through DuckDB (the benchmark's Python has it; pandas would need pyarrow)
def to_parquet(frame, path):
    duckdb.sql(f"COPY (FROM frame) TO '{path}' (FORMAT parquet)")
to_parquet(truth, os.path.join(out, '..', f'truth_{variant}{os.environ.get("GEN_SEED", "")}.parquet'))
if variant == 'B':
    to_parquet(data, os.path.join(out, 'usage.parquet'))
else:
    data.to_csv(os.path.join(out, 'usage.csv'), index=False, float_format='%g')
print(variant, len(data), 'rows', data.subscriber_id.nunique(), 'subscribers')
print(data.isna().mean().round(3).to_dict())
t = truth[truth.month == months[-2].start_time.date()]
print('training month churn rate', round(t.churn_next.mean(), 4), 'n', len(t))
for c in ['has_app', 'has_wallet', 'has_promo']:
    print(c, t.groupby(c).churn_next.mean().round(4).to_dict())
