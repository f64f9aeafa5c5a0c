-- While a store rebuilt from empty reads the topics' history again (decision 0161): per partition of the topics
-- it reads, the end offset when it began. Publications wait until the group has read past every one; then each
-- month goes out once and the rows are deleted.
CREATE TABLE catching_up (
    topic text NOT NULL,
    partition integer NOT NULL,
    end_offset bigint NOT NULL,
    PRIMARY KEY (topic, partition)
);
