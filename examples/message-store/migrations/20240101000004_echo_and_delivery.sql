-- The echo protocol's requests and responses, outgoing deliveries,
-- webhooks, rate limits and the audit log.
CREATE TABLE echo_requests (
    id           bigserial PRIMARY KEY,
    session      text NOT NULL REFERENCES sessions (token) ON DELETE CASCADE,
    payload      bytea NOT NULL,
    received_at  timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX echo_requests_session ON echo_requests (session, received_at);

CREATE TABLE echo_responses (
    request_id  bigint PRIMARY KEY REFERENCES echo_requests (id) ON DELETE CASCADE,
    payload     bytea NOT NULL,
    latency_us  bigint NOT NULL CHECK (latency_us >= 0),
    sent_at     timestamptz NOT NULL DEFAULT clock_timestamp()
);

CREATE TYPE delivery_state AS ENUM ('pending', 'delivered', 'failed');

CREATE TABLE delivery_queue (
    id               bigserial PRIMARY KEY,
    message_id       bigint NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
    recipient_id     bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    state            delivery_state NOT NULL DEFAULT 'pending',
    attempts         int NOT NULL DEFAULT 0,
    next_attempt_at  timestamptz NOT NULL DEFAULT now(),
    UNIQUE (message_id, recipient_id)
);
CREATE INDEX delivery_queue_due ON delivery_queue (next_attempt_at) WHERE state = 'pending';

CREATE TABLE webhooks (
    id          bigserial PRIMARY KEY,
    channel_id  bigint NOT NULL REFERENCES channels (id) ON DELETE CASCADE,
    url         text NOT NULL,
    secret      text NOT NULL,
    active      boolean NOT NULL DEFAULT true,
    UNIQUE (channel_id, url)
);

CREATE TABLE webhook_deliveries (
    id            bigserial PRIMARY KEY,
    webhook_id    bigint NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
    message_id    bigint NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
    status_code   int NOT NULL,
    delivered_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX webhook_deliveries_webhook ON webhook_deliveries (webhook_id);

CREATE TABLE rate_limits (
    user_id       bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    window_start  timestamptz NOT NULL,
    hits          int NOT NULL DEFAULT 0,
    PRIMARY KEY (user_id, window_start)
);

CREATE TABLE audit_log (
    id         bigserial PRIMARY KEY,
    tenant_id  bigint REFERENCES tenants (id) ON DELETE CASCADE,
    actor_id   bigint REFERENCES users (id) ON DELETE SET NULL,
    action     text NOT NULL,
    details    jsonb NOT NULL DEFAULT '{}',
    at         timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX audit_log_tenant_at ON audit_log (tenant_id, at);
