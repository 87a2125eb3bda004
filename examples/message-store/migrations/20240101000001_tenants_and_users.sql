-- Tenants and their users.
CREATE TABLE tenants (
    id          bigserial PRIMARY KEY,
    slug        text NOT NULL UNIQUE CHECK (slug ~ '^[a-z0-9-]+$'),
    name        text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE users (
    id            bigserial PRIMARY KEY,
    tenant_id     bigint NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    handle        text NOT NULL,
    email         text NOT NULL UNIQUE,
    display_name  text NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    UNIQUE (tenant_id, handle)
);
CREATE INDEX users_tenant ON users (tenant_id);

CREATE TABLE user_profiles (
    user_id     bigint PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    bio         text NOT NULL DEFAULT '',
    avatar_url  text,
    locale      text NOT NULL DEFAULT 'en'
);

CREATE TABLE user_settings (
    user_id  bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    key      text NOT NULL,
    value    text NOT NULL,
    PRIMARY KEY (user_id, key)
);

CREATE TABLE sessions (
    token       text PRIMARY KEY,
    user_id     bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at  timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz NOT NULL
);
CREATE INDEX sessions_user ON sessions (user_id);

CREATE TABLE blocked_users (
    user_id          bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    blocked_user_id  bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    blocked_at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, blocked_user_id),
    CHECK (user_id <> blocked_user_id)
);
