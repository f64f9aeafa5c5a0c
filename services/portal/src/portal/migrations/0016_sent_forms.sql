-- Forms that act once: "Issue key" and "Create an account" carry a one-time form id made when the page is shown.
-- The first POST with it claims it here (outcome NULL while it acts), and keeps what it did; a second POST with the
-- same id (a double-click, the Back button) does not act again but is sent to the first's result. A failed attempt
-- gives its claim back. Kept as long as the uploads (two hours), by the same sweep.
CREATE TABLE sent_forms (
    form_id uuid PRIMARY KEY,
    username text NOT NULL,
    form text NOT NULL,
    sent_at timestamptz NOT NULL DEFAULT now(),
    outcome jsonb
);
CREATE INDEX sent_forms_sent_at ON sent_forms (sent_at);
