-- Rejected records per code of each batch still waiting for its completion email: written per chunk
-- of lrs.batch.records.decided.v1 (a redelivered chunk adds nothing), read and dropped once the email
-- is logged sent or failed.
CREATE TABLE rejection_tallies (
    batch_id     uuid NOT NULL,
    chunk_index  integer NOT NULL,
    code         text NOT NULL,
    records      integer NOT NULL CHECK (records > 0),
    PRIMARY KEY (batch_id, chunk_index, code)
);
