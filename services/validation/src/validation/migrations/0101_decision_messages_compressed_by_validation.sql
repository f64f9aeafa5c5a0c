-- Decision 0101: validation compresses a decision's messages itself (zstd, ~1.6 MB for 10,000 records
-- where PostgreSQL's lz4 made ~2.9 MB of ~13.5 MB), so PostgreSQL stores them as they come, out of
-- line, without compressing them again. Rows stored before stay as they are (lz4) and are read as before.
ALTER TABLE decisions ALTER COLUMN messages SET STORAGE EXTERNAL;
