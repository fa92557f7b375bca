-- Under row-level security the planner may not evaluate a non-LEAKPROOF operator before the
-- policy's condition, so `search_vector @@ query` could not use its GIN index for leadzone_app:
-- every search walked the whole tenant and ran @@ row by row (measured on 200,000 leads: 78 ms
-- alone and about a second under load, against 0.7 ms with the index). The text-search match
-- reveals nothing about its arguments but true/false, so it is declared LEAKPROOF in this
-- database. This needs a superuser; without one the migration warns and searches stay slow.
DO $$
BEGIN
  ALTER FUNCTION pg_catalog.ts_match_vq(tsvector, tsquery) LEAKPROOF;
EXCEPTION WHEN insufficient_privilege THEN
  RAISE WARNING 'ts_match_vq could not be marked LEAKPROOF (needs a superuser): searches under RLS will not use the GIN index';
END $$;
