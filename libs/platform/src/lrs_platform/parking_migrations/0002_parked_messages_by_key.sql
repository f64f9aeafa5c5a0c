-- A stream's parked messages by its key (`ParkingLot.listing` with a key, an operator's look for a
-- learner's or a batch's messages): `parked_messages_by_stream` has the key third, after the consumer
-- and the topic, and a key alone walked every parked message of the consumers (decision 0117).
CREATE INDEX parked_messages_by_key ON parked_messages (message_key);
