-- Every database starts with the echo system's own tenant, its service
-- user and the public lobby.
INSERT INTO tenants (slug, name) VALUES ('echo-system', 'Echo system');
INSERT INTO users (tenant_id, handle, email, display_name)
VALUES (1, 'echo-bot', 'bot@echo.invalid', 'Echo bot');
INSERT INTO channels (tenant_id, name, topic, created_by) VALUES (1, 'lobby', 'Say hello', 1);
INSERT INTO channel_members (channel_id, user_id, role) VALUES (1, 1, 'owner');
