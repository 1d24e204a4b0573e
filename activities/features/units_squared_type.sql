-- The type units_squared(x) squares amounts in units as (partition/02_aggregates.sql sums the
-- squares exactly): BIGINT when every spend and voice amount of the usage has a BIGINT square
-- (|units| <= floor(sqrt(2^63 - 1)) = 3,037,000,499: amounts up to 303,700 a month), else HUGEINT.
-- Both sum to the same integer; HUGEINT products cost the aggregation ~0.5 s more at 1M.
-- Read by activities/features.ts and bench/peer.py.
SELECT CASE
  WHEN greatest(coalesce(max(round(abs(spend) * 10000)), 0), coalesce(max(round(abs(voice_minutes) * 10000)), 0)) <= 3037000499
  THEN 'BIGINT' ELSE 'HUGEINT' END AS square_type
FROM usage;
