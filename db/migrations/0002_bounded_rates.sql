-- Rates are bounded to (0, 1e-6] dollars per unit per ms (domain/billing-rates.ts
-- MAX_RATE_PER_UNIT_MS). Rows stored before the bound held are repaired to the rate billing
-- reads them at (db/queries/billing.ts effectiveRatesSql): the product's last usable rate
-- before them. One with no usable rate before it is deleted unless an attempt was billed
-- under it; such a row keeps pricing at 0, as reads already price it.
UPDATE resources r
   SET rate = e.rate
  FROM (SELECT name, usable[cardinality(usable)] AS rate
          FROM (SELECT name,
                       array_agg(rate) FILTER (WHERE rate > 0 AND rate <= 1e-6)
                         OVER (PARTITION BY product ORDER BY version) AS usable
                  FROM resources) v) e
 WHERE r.name = e.name
   AND NOT (r.rate > 0 AND r.rate <= 1e-6)
   AND e.rate IS NOT NULL;
--> statement-breakpoint
DELETE FROM resources r
 WHERE NOT (r.rate > 0 AND r.rate <= 1e-6)
   AND NOT EXISTS (SELECT 1 FROM attempts a, jsonb_array_elements(
                     CASE WHEN jsonb_typeof(a.resources) = 'array' THEN a.resources ELSE '[]'::jsonb END) AS item
                    WHERE item->>'name' = r.name);
