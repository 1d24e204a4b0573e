-- The value x stability grid of domain/rules.ts OPERATION_GRID, filled through an appender by
-- activities/publish.ts; the published subscriber and dispatch tables join it (publish/tables/).
CREATE OR REPLACE TEMP TABLE operation_grid (
  value_tier VARCHAR,
  stable BOOLEAN,
  priority INTEGER,
  retention_style VARCHAR,
  channel VARCHAR
);
