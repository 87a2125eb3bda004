-- Messages and everything attached to them.
CREATE TABLE messages (
    id          bigserial PRIMARY KEY,
    channel_id  bigint NOT NULL REFERENCES channels (id) ON DELETE CASCADE,
    author_id   bigint REFERENCES users (id) ON DELETE SET NULL,
    body        text NOT NULL CHECK (length(body) BETWEEN 1 AND 4000),
    reply_to    bigint REFERENCES messages (id) ON DELETE SET NULL,
    sent_at     timestamptz NOT NULL DEFAULT clock_timestamp(),
    edited_at   timestamptz,
    deleted_at  timestamptz
);
CREATE INDEX messages_channel_sent ON messages (channel_id, sent_at, id);
CREATE INDEX messages_author ON messages (author_id);
CREATE INDEX messages_body_search ON messages USING gin (to_tsvector('simple', body));

CREATE TABLE message_edits (
    id          bigserial PRIMARY KEY,
    message_id  bigint NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
    old_body    text NOT NULL,
    edited_at   timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX message_edits_message ON message_edits (message_id);

CREATE TABLE reactions (
    message_id  bigint NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
    user_id     bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    emoji       text NOT NULL,
    reacted_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (message_id, user_id, emoji)
);

CREATE TABLE attachments (
    id            bigserial PRIMARY KEY,
    message_id    bigint NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
    filename      text NOT NULL,
    content_type  text NOT NULL,
    size_bytes    bigint NOT NULL CHECK (size_bytes >= 0),
    sha256        text NOT NULL,
    data          bytea NOT NULL,
    UNIQUE (message_id, sha256)
);

CREATE TABLE mentions (
    message_id  bigint NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
    user_id     bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    PRIMARY KEY (message_id, user_id)
);
CREATE INDEX mentions_user ON mentions (user_id);

CREATE TABLE threads (
    root_message_id  bigint PRIMARY KEY REFERENCES messages (id) ON DELETE CASCADE,
    reply_count      int NOT NULL DEFAULT 0,
    last_reply_at    timestamptz
);

CREATE TABLE read_receipts (
    channel_id            bigint NOT NULL REFERENCES channels (id) ON DELETE CASCADE,
    user_id               bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    last_read_message_id  bigint NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
    read_at               timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (channel_id, user_id)
);

CREATE TABLE pins (
    channel_id  bigint NOT NULL REFERENCES channels (id) ON DELETE CASCADE,
    message_id  bigint NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
    pinned_by   bigint REFERENCES users (id) ON DELETE SET NULL,
    pinned_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (channel_id, message_id)
);

CREATE TABLE message_tags (
    message_id  bigint NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
    tag_id      bigint NOT NULL REFERENCES tags (id) ON DELETE CASCADE,
    PRIMARY KEY (message_id, tag_id)
);
CREATE INDEX message_tags_tag ON message_tags (tag_id);
