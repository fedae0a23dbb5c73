-- lootwatch schema, version 2: accounts of the review web app.

CREATE TABLE users (
    id              serial PRIMARY KEY,
    username        text NOT NULL UNIQUE CHECK (username ~ '^[A-Za-z0-9._@-]{1,64}$'),
    password_hash   text NOT NULL,                  -- argon2id, encoded with its parameters
    role            text NOT NULL DEFAULT 'analyst' CHECK (role IN ('analyst', 'admin')),
    created_at      timestamptz NOT NULL DEFAULT now(),
    last_login_at   timestamptz,
    disabled_at     timestamptz                     -- kept, not deleted: decisions name the user
);
