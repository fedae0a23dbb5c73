-- lootwatch schema, version 7: a seller's canonical claim kept apart, refused pages counted per run,
-- and the append-only tables refuse TRUNCATE as they refuse UPDATE and DELETE.

-- The listing's url is the URL the crawler fetched. A page's rel=canonical is the seller's claim:
-- kept here, shown labelled as such, never used as the listing's link ('' when the page made none).
ALTER TABLE listings ADD COLUMN claimed_canonical_url text NOT NULL DEFAULT '';

-- pages a run refused by design (robots.txt, SSRF guard, size limits, redirect loop, bot challenge);
-- each is a rejections row of kind 'page' with its reason
ALTER TABLE crawl_runs ADD COLUMN refused integer NOT NULL DEFAULT 0;

-- Row triggers do not fire on TRUNCATE: a statement trigger does, for every table truncated
-- (those a CASCADE reaches included), so the audit trail and the crawl evidence cannot be emptied.
CREATE FUNCTION append_only_no_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is append-only: it cannot be truncated', TG_TABLE_NAME;
END $$;

CREATE TRIGGER decisions_no_truncate BEFORE TRUNCATE ON decisions
    FOR EACH STATEMENT EXECUTE FUNCTION append_only_no_truncate();
CREATE TRIGGER page_snapshots_no_truncate BEFORE TRUNCATE ON page_snapshots
    FOR EACH STATEMENT EXECUTE FUNCTION append_only_no_truncate();
CREATE TRIGGER listing_history_no_truncate BEFORE TRUNCATE ON listing_history
    FOR EACH STATEMENT EXECUTE FUNCTION append_only_no_truncate();
