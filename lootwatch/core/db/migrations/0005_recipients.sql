-- lootwatch schema, version 5: notice recipients, each getting every alert at once or a daily digest.
-- settings.email_to / settings.slack_webhook_url stay immediate recipients without a row here.

CREATE TABLE notice_recipients (
    id              bigserial PRIMARY KEY,
    channel         text NOT NULL CHECK (channel IN ('email', 'slack')),
    address         text NOT NULL,                  -- email address, or Slack incoming-webhook URL
    mode            text NOT NULL DEFAULT 'immediate' CHECK (mode IN ('immediate', 'daily')),
    collection      text,                           -- only alerts on artefacts of this collection (NULL: all)
    active          boolean NOT NULL DEFAULT true,  -- removed recipients are kept: notices name them
    -- daily mode: alerts created before this instant are in a digest already (set with the digest row)
    digest_until    timestamptz,
    created_at      timestamptz NOT NULL DEFAULT now()
);
-- one active rule per address and filter; a removed one can be added again
CREATE UNIQUE INDEX notice_recipients_one_active
    ON notice_recipients (channel, lower(address), coalesce(collection, '')) WHERE active;

-- which recipient a notice is for (NULL: the settings' recipients); digests have no review item
ALTER TABLE notifications ADD COLUMN recipient_id bigint REFERENCES notice_recipients(id);
CREATE INDEX notifications_recipient ON notifications (recipient_id);
