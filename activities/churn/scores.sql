-- The scores table: each scored row's churn score and its risk band's name (the band travels
-- from the model code as an index into getvariable('risk_bands'), domain/rules.ts RISK_BANDS).
SELECT row_idx, churn_score, getvariable('risk_bands')[band + 1] AS risk_band FROM scored_rows ORDER BY row_idx
