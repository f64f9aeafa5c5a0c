-- The batch view stores each chunk of record outcomes as one row (decision 0111): the chunk's outcomes as
-- the JSON its message carried (`data.outcomes`), beside what a page needs to find it
-- without reading it: its first and last line and its count of each status. `applied` orders the rows
-- a batch's lines came in: where two chunks hold the same line (chunked otherwise when decided again),
-- the one applied last is shown, as the row it overwrote was before.
CREATE SEQUENCE batch_record_chunk_order;
CREATE TABLE batch_record_chunks (
    batch_id     uuid NOT NULL,
    chunk_index  integer NOT NULL,  -- the message's; negative for the outcomes moved from batch_records
    first_line   integer NOT NULL,
    last_line    integer NOT NULL,
    accepted     integer NOT NULL,
    rejected     integer NOT NULL,
    no_ops       integer NOT NULL,
    applied      bigint NOT NULL DEFAULT nextval('batch_record_chunk_order'),
    outcomes     bytea NOT NULL,
    PRIMARY KEY (batch_id, chunk_index)
);
-- lz4 costs the server less than the TOAST rows it saves (~200 KB of JSON a chunk); pglz more (decision
-- 0098). A server built without lz4 stores the outcomes out of line as they are.
DO $$
BEGIN
    ALTER TABLE batch_record_chunks ALTER COLUMN outcomes SET COMPRESSION lz4;
EXCEPTION WHEN feature_not_supported THEN
    ALTER TABLE batch_record_chunks ALTER COLUMN outcomes SET STORAGE EXTERNAL;
END
$$;

-- The outcomes stored a row each before, 1,000 lines a chunk in line order.
INSERT INTO batch_record_chunks (batch_id, chunk_index, first_line, last_line, accepted, rejected, no_ops, outcomes)
SELECT
    batch_id,
    -1 - piece,
    min(line),
    max(line),
    count(*) FILTER (WHERE status = 'accepted'),
    count(*) FILTER (WHERE status = 'rejected'),
    count(*) FILTER (WHERE status = 'no_op'),
    convert_to(
        json_build_object('data', json_build_object('outcomes', json_agg(
            json_build_object(
                'line', line,
                'mis_identifier', mis_identifier,
                'action', action,
                'uln_masked', uln_masked,
                'status', status,
                'errors', errors,
                'warnings', warnings,
                'achievement_id', achievement_id
            )
            ORDER BY line
        )))::text,
        'UTF8'
    )
FROM (
    SELECT *, (row_number() OVER (PARTITION BY batch_id ORDER BY line) - 1) / 1000 AS piece FROM batch_records
) AS numbered
GROUP BY batch_id, piece;

DROP TABLE batch_records;

-- A row a line, as the API shows them, for operators' queries (the service reads the chunks itself).
CREATE VIEW batch_records AS
SELECT DISTINCT ON (c.batch_id, (o ->> 'line')::integer)
    c.batch_id,
    (o ->> 'line')::integer AS line,
    o ->> 'mis_identifier' AS mis_identifier,
    o ->> 'action' AS action,
    o ->> 'uln_masked' AS uln_masked,
    o ->> 'status' AS status,
    COALESCE(o -> 'errors', '[]') AS errors,
    COALESCE(o -> 'warnings', '[]') AS warnings,
    (o ->> 'achievement_id')::uuid AS achievement_id
FROM batch_record_chunks AS c
CROSS JOIN LATERAL jsonb_array_elements(convert_from(c.outcomes, 'UTF8')::jsonb -> 'data' -> 'outcomes') AS o
ORDER BY c.batch_id, (o ->> 'line')::integer, c.applied DESC;
