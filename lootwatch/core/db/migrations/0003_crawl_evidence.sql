-- Crawl evidence is append-only: a page snapshot (the stored page, its sha256 and fetch time) and a
-- listing's history of price / status / title changes are never changed or deleted once written.
-- Pages are content-addressed in the store (the sha256 names the gzipped file), so the rows
-- alone prove what a listing showed and when.

CREATE FUNCTION crawl_evidence_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is append-only: crawl evidence is never changed', TG_TABLE_NAME;
END $$;

CREATE TRIGGER page_snapshots_append_only BEFORE UPDATE OR DELETE ON page_snapshots
    FOR EACH ROW EXECUTE FUNCTION crawl_evidence_append_only();
CREATE TRIGGER listing_history_append_only BEFORE UPDATE OR DELETE ON listing_history
    FOR EACH ROW EXECUTE FUNCTION crawl_evidence_append_only();

-- a listing's snapshots and history, newest last; the crawler reads the latest fetch of each page
CREATE INDEX page_snapshots_listing ON page_snapshots (listing_id, fetched_at);
CREATE INDEX listing_history_listing ON listing_history (listing_id, seen_at);
