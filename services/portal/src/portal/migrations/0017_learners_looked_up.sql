-- Post/Redirect/Get for a learner looked up by ULN: the POST keeps the look-up (the ULN, the names typed and the
-- batch asked after) in its session, under a random id, and sends the browser to the page that id names, so that
-- no ULN is in an address and Back or a reload never sends the form again. Sealed like the page notices, with the
-- cookie's token: this table alone reads no ULN. It goes with the session (sign-out, expiry).
ALTER TABLE sessions ADD COLUMN sealed_look_ups bytea;
