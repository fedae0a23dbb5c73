-- lootwatch schema, version 4: alert-rule evidence, relisting links, analyst feedback.

-- why the rule opened the item: threshold used, agreeing photos, geometric check (alerts.rules)
ALTER TABLE review_items ADD COLUMN rule_evidence jsonb NOT NULL DEFAULT '{}';

-- a relisted object (a listing sharing a photo with an earlier alerted listing) is linked to the
-- earlier alert instead of opening a second one for the same object
CREATE TABLE alert_links (
    review_item_id  bigint NOT NULL REFERENCES review_items(id),
    listing_id      bigint NOT NULL REFERENCES listings(id),
    shared_photo_id bigint REFERENCES listing_photos(id),
    score           double precision NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (review_item_id, listing_id)
);
CREATE INDEX alert_links_listing ON alert_links (listing_id);

-- gallery photos taken from a confirmed listing (alerts.feedback), for audit and undo
ALTER TABLE artefact_photos ADD COLUMN from_listing_photo_id bigint REFERENCES listing_photos(id);

-- (listing photo, artefact) pairs an analyst dismissed: hard negatives for descriptor training
CREATE TABLE hard_negatives (
    id              bigserial PRIMARY KEY,
    photo_id        bigint NOT NULL REFERENCES listing_photos(id),
    artefact_id     text NOT NULL REFERENCES artefacts(id),
    review_item_id  bigint REFERENCES review_items(id),
    score           double precision,
    created_at      timestamptz NOT NULL DEFAULT now(),
    UNIQUE (photo_id, artefact_id)
);

-- Recorded by the database on every dismissal, whoever dismisses (CLI, web app, SQL): the photos
-- of the listing that matched the artefact become hard negatives for it.
CREATE FUNCTION hard_negatives_on_dismiss() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO hard_negatives (photo_id, artefact_id, review_item_id, score)
    SELECT m.photo_id, NEW.artefact_id, NEW.id, max(m.score)
    FROM listing_photo_links k
    JOIN matches m ON m.photo_id = k.photo_id AND m.artefact_id = NEW.artefact_id
    WHERE k.listing_id = NEW.listing_id
    GROUP BY m.photo_id
    ON CONFLICT (photo_id, artefact_id) DO NOTHING;
    RETURN NEW;
END $$;
CREATE TRIGGER review_items_hard_negatives AFTER UPDATE OF state ON review_items
    FOR EACH ROW WHEN (NEW.state = 'dismissed' AND OLD.state IS DISTINCT FROM 'dismissed')
    EXECUTE FUNCTION hard_negatives_on_dismiss();
