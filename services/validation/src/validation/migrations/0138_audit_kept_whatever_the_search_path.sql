-- Decision 0200 (migrations 0135 and 0136), report "review5" finding 1: the triggers' function read `pg_class`,
-- `pg_has_role` and `current_setting` by the caller's search_path, so a role that does not own `erasures`,
-- `reference_loads` or `link_changes` could pass for their owner with a temporary `pg_class`, or a `pg_has_role` of
-- its own searched before pg_catalog, and with `lrs.audit_maintenance` on rewrite them. It now runs with pg_catalog
-- first and pg_temp last, whoever calls it.
ALTER FUNCTION refuse_audit_change() SET search_path = pg_catalog, pg_temp;
