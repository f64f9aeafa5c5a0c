-- Who made each load of the reference files (`lrs reference load`: the operator's principal; NULL for a service's
-- own first load of the shipped files, a Sandpit copy of live's load, and loads made before this release), and the
-- SHA-256 of each file it read, by file name (`{"awarding-organisations.csv": "<hex>", ...}`): an auditor asking
-- which register a batch was judged by finds the load by time and the files by their digests.
ALTER TABLE reference_loads ADD COLUMN operator text;
ALTER TABLE reference_loads ADD COLUMN sha256 jsonb;
