-- Published results, one per entry, written all at once when a round is published.
CREATE TABLE results (
    round_id         text NOT NULL,
    entry_id         text NOT NULL,
    product          text NOT NULL,
    province_code    text NOT NULL,
    subgroup_code    text NOT NULL,
    criteria_set     text NOT NULL REFERENCES criteria_sets (id),
    mean_tenths      bigint NOT NULL,
    part_means       jsonb NOT NULL,
    band_stars       integer NOT NULL,
    stars            integer NOT NULL,
    recognised_stars integer NOT NULL,
    certifiable      boolean NOT NULL,
    nominated        boolean NOT NULL,
    rescore          boolean NOT NULL,
    reasons          jsonb NOT NULL,
    sheets           integer NOT NULL,
    publish_time     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (round_id, entry_id),
    FOREIGN KEY (round_id, entry_id) REFERENCES entries (round_id, id)
);
CREATE INDEX results_nominated ON results (province_code) WHERE nominated;
