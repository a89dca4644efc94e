-- Idempotent retries (Idempotency-Key header): each raw measure keeps the key of the request
-- that brought it, so that a retry, even after a restart, finds it already stored. The key is a
-- hash of (token id, header value); empty for requests without the header.
ALTER TABLE raw_measures
    ADD COLUMN IF NOT EXISTS idempotency_key String DEFAULT '' COMMENT 'hash of (token id, Idempotency-Key header) of the request; empty without one';

-- Retries are looked up by key among recent rows: the partition key prunes by received_at,
-- the bloom filter skips granules within a partition.
ALTER TABLE raw_measures
    ADD INDEX IF NOT EXISTS idempotency_key_index idempotency_key TYPE bloom_filter GRANULARITY 1;
