-- Decision 0124: an operator's account may be limited to duties (the scopes of operator keys); none
-- listed is every duty, as every operator account had before.
ALTER TABLE accounts ADD COLUMN scopes text[] NOT NULL DEFAULT '{}';
ALTER TABLE accounts ADD CONSTRAINT accounts_duties_of_operators CHECK (role = 'operator' OR scopes = '{}');
