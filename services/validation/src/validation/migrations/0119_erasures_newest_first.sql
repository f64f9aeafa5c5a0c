-- The audit of erasures is listed newest first, a page at a time after the last one shown
-- (`ReferenceStore.erasures`, decision 0118): this index is in that order, so a page reads its own rows
-- where the list read and sorted every erasure ever made.
CREATE INDEX erasures_newest_first ON erasures (erased_at DESC, erasure_id);
