-- A session keeps a notice per page the browser is sent to (its full address, the query included), not one: two
-- actions of one session at once (two tabs) each keep theirs, and neither a password nor a key's secret shown once is
-- replaced by the other's before its page reads it. Sealed as one list like the learners looked up (a fresh nonce each
-- time it changes), changed under the session row's lock, each notice read once. The one-slot columns of 0010 are no
-- longer written.
ALTER TABLE sessions ADD COLUMN sealed_notices bytea;
