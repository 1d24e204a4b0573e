-- The months features are computed as of: the run's month to score, and the month to train on
-- (the month before for monthly usage; the same month for a snapshot with the user's labels).
CREATE OR REPLACE TABLE feature_months AS
SELECT * FROM (VALUES ($score_month::DATE, 'score'), ($train_month::DATE, 'train')) AS t(as_of, purpose);
