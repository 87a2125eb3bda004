-- Derived data kept by the database itself.
CREATE FUNCTION bump_thread() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.reply_to IS NOT NULL THEN
        INSERT INTO threads (root_message_id, reply_count, last_reply_at)
        VALUES (NEW.reply_to, 1, NEW.sent_at)
        ON CONFLICT (root_message_id) DO UPDATE
            SET reply_count = threads.reply_count + 1, last_reply_at = NEW.sent_at;
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER messages_bump_thread AFTER INSERT ON messages
    FOR EACH ROW EXECUTE FUNCTION bump_thread();

CREATE VIEW channel_stats AS
SELECT c.id AS channel_id,
       c.name,
       (SELECT count(*) FROM channel_members m WHERE m.channel_id = c.id) AS members,
       (SELECT count(*) FROM messages x WHERE x.channel_id = c.id AND x.deleted_at IS NULL) AS messages
  FROM channels c;
