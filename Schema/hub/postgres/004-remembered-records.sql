-- A hub applies a batch in one round trip when it remembers every record the batch reads (those
-- it last wrote or read itself; the others the batch creates). The remembered records are only a
-- guess: the batch's transaction first locks them and calls this function with how many still
-- hold exactly the remembered values. Any other count fails the transaction as a serialization
-- failure, and the hub applies the batch again the usual way, reading the records.
CREATE FUNCTION hub_expect_unchanged(matched BIGINT, expected INTEGER) RETURNS VOID LANGUAGE plpgsql AS $$
BEGIN
    IF matched IS DISTINCT FROM expected THEN
        RAISE EXCEPTION 'a record changed since this hub last read it' USING ERRCODE = 'serialization_failure';
    END IF;
END;
$$;
