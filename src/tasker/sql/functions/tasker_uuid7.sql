-- tasker_uuid7(): a time-ordered UUID (version 7, RFC 9562): gen_random_uuid() with its first 48 bits replaced by
-- the Unix time in milliseconds. The default key of tasks, workflow_steps and both transition tables (schema.sql
-- says why time-ordered keys). Applied before schema.sql, whose column defaults call it.
CREATE OR REPLACE FUNCTION tasker_uuid7() RETURNS uuid
LANGUAGE sql VOLATILE AS $$
    -- gen_random_uuid() with its first 48 bits replaced by the Unix time in ms and its version nibble set to 7
    SELECT encode(set_bit(set_bit(overlay(uuid_send(gen_random_uuid())
                  PLACING substring(int8send(floor(extract(epoch FROM clock_timestamp()) * 1000)::bigint) FROM 3)
                  FROM 1 FOR 6), 52, 1), 53, 1), 'hex')::uuid
$$;
