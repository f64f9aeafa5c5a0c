-- What the reports read per batch of a month, straight from an index (index-only): a month's rejection
-- codes and PLR writes were found by hashing the whole table, every batch ever reported included.
CREATE INDEX rejection_codes_of_batch ON rejection_codes (batch_id) INCLUDE (code, records);
CREATE INDEX plr_writes_of_batch ON plr_writes (batch_id) INCLUDE (qualification_number, last_written_at);
-- Every AO's challenges of some months, as a range of raising times (`ReportStore.challenges`).
CREATE INDEX challenges_by_raising ON challenges (raised_at);
