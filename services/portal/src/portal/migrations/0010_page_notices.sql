-- Decision 0130: what an action did (a password or key shown once, where a link went) waits in its session for
-- the page the browser is sent to after the action, sealed like the session's keys, and is read once.
ALTER TABLE sessions ADD COLUMN notice_page text, ADD COLUMN sealed_notice bytea;
