-- A batch's feed entries are numbered by the statement that writes them (it moves hub_counter
-- on and takes its row lock, held to the COMMIT sent with it), so no batch holds the counter
-- while the hub works or while a round trip is under way. The hub applies the batch with seqs
-- counted from 0; the receipt is stored so, with the base they count from. Batches written
-- before this migration stored the feed's own seqs: their base is 0.
ALTER TABLE hub_batches ADD COLUMN seq_base BIGINT NOT NULL DEFAULT 0;
