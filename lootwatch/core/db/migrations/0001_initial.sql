-- lootwatch schema, version 1. Applied once, in a transaction, by lootwatch.db.migrate.

CREATE TABLE artefacts (
    id              text PRIMARY KEY,               -- registrar's id, e.g. "A0021"
    title           text NOT NULL DEFAULT '',
    collection      text NOT NULL DEFAULT '',
    description     text NOT NULL DEFAULT '',
    provenance      text NOT NULL DEFAULT '',       -- provenance / theft-report reference
    created_at      timestamptz NOT NULL DEFAULT now(),
    removed_at      timestamptz                     -- removed from the watch list (kept for audit)
);

CREATE TABLE artefact_photos (
    id              bigserial PRIMARY KEY,          -- the id the FAISS index is keyed by
    artefact_id     text NOT NULL REFERENCES artefacts(id),
    sha256          text NOT NULL,
    stored_path     text NOT NULL,                  -- relative to the data dir's store
    source_name     text NOT NULL DEFAULT '',       -- file name it was imported from
    width           integer NOT NULL,
    height          integer NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    UNIQUE (artefact_id, sha256)
);

CREATE TABLE sources (
    id              serial PRIMARY KEY,
    name            text NOT NULL UNIQUE,           -- site key from the sites file
    base_url        text NOT NULL DEFAULT '',
    created_at      timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE crawl_runs (
    id              bigserial PRIMARY KEY,
    source_id       integer NOT NULL REFERENCES sources(id),
    started_at      timestamptz NOT NULL DEFAULT now(),
    finished_at     timestamptz,
    status          text NOT NULL DEFAULT 'running' CHECK (status IN ('running', 'finished', 'failed')),
    pages           integer NOT NULL DEFAULT 0,
    listings        integer NOT NULL DEFAULT 0,
    photos          integer NOT NULL DEFAULT 0,
    errors          integer NOT NULL DEFAULT 0,
    note            text NOT NULL DEFAULT ''
);
-- two runs of one site never overlap
CREATE UNIQUE INDEX crawl_runs_one_running ON crawl_runs (source_id) WHERE status = 'running';

CREATE TABLE listings (
    id              bigserial PRIMARY KEY,
    source_id       integer NOT NULL REFERENCES sources(id),
    url             text NOT NULL,
    item_id         text NOT NULL,                  -- site's item / lot id
    title           text NOT NULL DEFAULT '',
    description     text NOT NULL DEFAULT '',
    price_text      text NOT NULL DEFAULT '',
    amount          numeric(14, 2),
    currency        text,
    seller          text NOT NULL DEFAULT '',
    sale_date       text NOT NULL DEFAULT '',       -- sale or end date as the site states it
    status          text NOT NULL DEFAULT 'open',   -- open, sold, ended, unknown
    first_seen      timestamptz NOT NULL DEFAULT now(),
    last_seen       timestamptz NOT NULL DEFAULT now(),
    content_hash    text NOT NULL DEFAULT '',       -- of the extracted fields, for change detection
    UNIQUE (source_id, item_id)
);

-- price / status / title changes of a listing, append-only
CREATE TABLE listing_history (
    id              bigserial PRIMARY KEY,
    listing_id      bigint NOT NULL REFERENCES listings(id),
    seen_at         timestamptz NOT NULL DEFAULT now(),
    field           text NOT NULL,
    old_value       text,
    new_value       text
);

CREATE TABLE page_snapshots (
    id              bigserial PRIMARY KEY,
    listing_id      bigint REFERENCES listings(id),
    url             text NOT NULL,
    sha256          text NOT NULL,                  -- of the page body as fetched
    stored_path     text NOT NULL,                  -- gzipped body in the store
    http_status     integer NOT NULL,
    fetched_at      timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE listing_photos (
    id              bigserial PRIMARY KEY,
    sha256          text NOT NULL UNIQUE,           -- a photo is stored and matched once
    source_url      text NOT NULL,
    phash           text NOT NULL DEFAULT '',
    stored_path     text NOT NULL DEFAULT '',
    bytes           integer NOT NULL DEFAULT 0,
    width           integer,
    height          integer,
    fetched_at      timestamptz NOT NULL DEFAULT now(),
    -- queued -> matched | rejected (reason says why: corrupt, too large, not an image ...)
    status          text NOT NULL DEFAULT 'queued' CHECK (status IN ('queued', 'matched', 'rejected')),
    reason          text NOT NULL DEFAULT '',
    matched_at      timestamptz
);

-- a photo can appear under several listings (relisting); a listing has several photos
CREATE TABLE listing_photo_links (
    listing_id      bigint NOT NULL REFERENCES listings(id),
    photo_id        bigint NOT NULL REFERENCES listing_photos(id),
    position        integer NOT NULL DEFAULT 0,
    first_seen      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (listing_id, photo_id)
);
CREATE INDEX listing_photo_links_photo ON listing_photo_links (photo_id);

CREATE TABLE matches (
    id              bigserial PRIMARY KEY,
    photo_id        bigint NOT NULL REFERENCES listing_photos(id),
    artefact_id     text NOT NULL REFERENCES artefacts(id),
    rank            integer NOT NULL,
    score           double precision NOT NULL,      -- fused score the alert rule reads
    scores          jsonb NOT NULL DEFAULT '{}',    -- score per model, e.g. {"descriptor": 0.83}
    best_gallery_photo_id bigint REFERENCES artefact_photos(id),
    model_version   text NOT NULL,
    index_version   text NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    UNIQUE (photo_id, artefact_id, index_version)
);
CREATE INDEX matches_artefact ON matches (artefact_id);

CREATE TABLE review_items (
    id              bigserial PRIMARY KEY,
    listing_id      bigint NOT NULL REFERENCES listings(id),
    artefact_id     text NOT NULL REFERENCES artefacts(id),
    best_match_id   bigint REFERENCES matches(id),
    score           double precision NOT NULL,
    state           text NOT NULL DEFAULT 'new' CHECK (state IN ('new', 'confirmed', 'dismissed', 'escalated')),
    assignee        text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    UNIQUE (listing_id, artefact_id)                -- one alert per (listing, artefact)
);
CREATE INDEX review_items_state ON review_items (state, created_at);

-- append-only audit of review decisions
CREATE TABLE decisions (
    id              bigserial PRIMARY KEY,
    review_item_id  bigint NOT NULL REFERENCES review_items(id),
    actor           text NOT NULL,
    decided_at      timestamptz NOT NULL DEFAULT now(),
    from_state      text NOT NULL,
    to_state        text NOT NULL,
    comment         text NOT NULL DEFAULT ''
);

CREATE FUNCTION decisions_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'decisions is append-only';
END $$;
CREATE TRIGGER decisions_no_update BEFORE UPDATE OR DELETE ON decisions
    FOR EACH ROW EXECUTE FUNCTION decisions_append_only();

-- transactional outbox: written with the review item, delivered by the sender
CREATE TABLE notifications (
    id              bigserial PRIMARY KEY,
    channel         text NOT NULL CHECK (channel IN ('email', 'slack')),
    review_item_id  bigint REFERENCES review_items(id),
    payload         jsonb NOT NULL,
    status          text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sending', 'sent', 'dead')),
    attempts        integer NOT NULL DEFAULT 0,
    last_error      text NOT NULL DEFAULT '',
    idempotency_key text NOT NULL UNIQUE,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    created_at      timestamptz NOT NULL DEFAULT now(),
    sent_at         timestamptz
);
CREATE INDEX notifications_due ON notifications (status, next_attempt_at);

-- inputs that could not be used, with the reason, so nothing is dropped silently
CREATE TABLE rejections (
    id              bigserial PRIMARY KEY,
    kind            text NOT NULL,                  -- gallery_photo, listing_photo, page, csv_row ...
    ref             text NOT NULL,                  -- path or URL
    reason          text NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now()
);
