-- When a held challenge notice (decision 0155) was released, its AO's contact set: the email's Date, so a notice
-- sent days after its challenge was raised sorts in the contact's mailbox where it arrives, and a resend after a
-- crash carries the same Date. Null for a notice released before this column (its Date is when it was held).
ALTER TABLE deferred_emails ADD COLUMN released_at timestamptz;
