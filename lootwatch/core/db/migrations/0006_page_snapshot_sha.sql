-- A fetched page whose bytes were stored before points at their stored record (crawlers.store):
-- looked up by sha256 once per batch of pages.
CREATE INDEX page_snapshots_sha256 ON page_snapshots (sha256);
