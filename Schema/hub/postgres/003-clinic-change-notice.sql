-- A hub remembers the tokens it verified (one round trip less per request) only while it hears
-- of every change to hub_clinics: any statement that changes the table, `emreg hub clinic
-- revoke` from another process or an operator's own SQL, notifies the channel the hub listens
-- on, and the hub forgets every remembered token when the notice arrives.
CREATE FUNCTION hub_clinics_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('emreg_hub_clinics', '');
    RETURN NULL;
END;
$$;

CREATE TRIGGER hub_clinics_notify AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON hub_clinics
    FOR EACH STATEMENT EXECUTE FUNCTION hub_clinics_changed();
