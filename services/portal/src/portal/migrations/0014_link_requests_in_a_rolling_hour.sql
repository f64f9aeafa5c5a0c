-- Decision 0148: a client's forgotten-password requests are judged by those of the 60 minutes before (a rolling
-- hour), not by clock hour, which let a client make twice its share across an hour's turn. One row a request kept
-- (answered, or the first beyond the share in 60 minutes): when, and whether it was answered. The client is kept
-- only as a hash of its address, and the sweep forgets a row once it is an hour old. The clock hours' counts
-- judge nothing now: they are dropped.
DROP TABLE link_requests_by_client;

CREATE TABLE link_requests_by_client (
    request_id    bigserial PRIMARY KEY,
    client_hash   text NOT NULL,
    requested_at  timestamptz NOT NULL,
    answered      boolean NOT NULL
);

CREATE INDEX link_requests_by_client_when ON link_requests_by_client (client_hash, requested_at);
