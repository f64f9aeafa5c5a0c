-- Decision 0148: forgotten-password requests are counted per client and hour, so that one client can neither use
-- up people's links nor make the portal mail many accounts. The client is kept only as a hash of its address,
-- and a row is forgotten once its hour no longer counts.
CREATE TABLE link_requests_by_client (
    client_hash    text NOT NULL,
    hour_starting  timestamptz NOT NULL,
    requests       integer NOT NULL,
    PRIMARY KEY (client_hash, hour_starting)
);
