-- Where the batch view's outcome consumer is on `lrs.batch.outcomes.v1`, kept with the view itself: a database
-- restored to an earlier point comes back with the positions of that point, and the consumer reads the outcomes
-- since then again (the topic is kept forever), so the batches decided after it are not lost from the view. The
-- group's offsets in Kafka are committed too; they alone would stay ahead of a restored view.
CREATE TABLE batch_view_positions (
    group_id    text NOT NULL,
    topic       text NOT NULL,
    partition   integer NOT NULL,
    next_offset bigint NOT NULL,
    PRIMARY KEY (group_id, topic, partition)
);
