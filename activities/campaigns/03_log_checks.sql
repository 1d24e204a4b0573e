-- What the contact log says beyond who was contacted, checked against the list it reports on.
-- The measurement groups by the list's action and channel (intent to treat: the arms are the
-- list's), so a log that names other ones is reported, never silently re-grouped. Reads
-- checked_contacts (rows used: reason NULL), previous_dispatch and the session variable
-- recommended_products (domain/actions.ts); normalised_text is defined in normalised-text.sql.

-- rows whose logged action is not the action the list recommends to the subscriber, per pair;
-- segflow_product: the logged action is another product segflow recommends (another offer made,
-- not the list's action in the log's own words)
CREATE OR REPLACE TEMP TABLE contact_action_differs AS
SELECT any_value(c.action ORDER BY c.file_row) AS logged_action, d.recommended_product AS listed_action,
       count(*) AS rows,
       list_contains(list_transform(getvariable('recommended_products'), p -> normalised_text(p)),
                     normalised_text(c.action)) AS segflow_product
FROM checked_contacts c
JOIN (SELECT DISTINCT subscriber_id, recommended_product FROM previous_dispatch) d USING (subscriber_id)
WHERE c.reason IS NULL AND c.action IS NOT NULL
  AND normalised_text(c.action) IS DISTINCT FROM normalised_text(d.recommended_product)
GROUP BY normalised_text(c.action), d.recommended_product
ORDER BY rows DESC, listed_action, logged_action;

-- every logged channel of the rows used, as typed first, with its rows (checked against the known channels in TypeScript)
CREATE OR REPLACE TEMP TABLE contact_channels AS
SELECT any_value(channel ORDER BY file_row) AS channel, count(*) AS rows
FROM checked_contacts
WHERE reason IS NULL AND channel IS NOT NULL
GROUP BY normalised_text(channel)
ORDER BY rows DESC, channel;
