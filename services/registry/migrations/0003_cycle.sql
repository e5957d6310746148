-- The OCOP cycle's steps 2 to 4: idea registrations, business plans and the
-- support recorded on accepted plans.

CREATE TABLE ideas (
    subject_id    text NOT NULL,
    product_id    text NOT NULL,
    id            text NOT NULL,
    title         text NOT NULL CHECK (length(title) BETWEEN 1 AND 300),
    description   text NOT NULL DEFAULT '',
    commune_code  text NOT NULL,
    province_code text NOT NULL,
    state         text NOT NULL CHECK (state IN ('submitted', 'accepted', 'rejected')),
    reviewer      text NOT NULL DEFAULT '',
    review_reason text NOT NULL DEFAULT '',
    review_time   timestamptz,
    version       bigint NOT NULL DEFAULT 1,
    create_time   timestamptz NOT NULL DEFAULT now(),
    update_time   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (subject_id, product_id, id),
    FOREIGN KEY (subject_id, product_id) REFERENCES products (subject_id, id)
);
CREATE INDEX ideas_by_time ON ideas (create_time, subject_id, product_id, id);

CREATE TABLE plans (
    subject_id     text NOT NULL,
    product_id     text NOT NULL,
    id             text NOT NULL,
    idea_id        text NOT NULL,
    title          text NOT NULL CHECK (length(title) BETWEEN 1 AND 300),
    summary        text NOT NULL DEFAULT '',
    investment_vnd bigint NOT NULL DEFAULT 0 CHECK (investment_vnd >= 0),
    start_date     date,
    end_date       date,
    state          text NOT NULL CHECK (state IN ('draft', 'submitted', 'accepted', 'rejected')),
    reviewer       text NOT NULL DEFAULT '',
    review_reason  text NOT NULL DEFAULT '',
    review_time    timestamptz,
    province_code  text NOT NULL,
    version        bigint NOT NULL DEFAULT 1,
    create_time    timestamptz NOT NULL DEFAULT now(),
    update_time    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (subject_id, product_id, id),
    FOREIGN KEY (subject_id, product_id, idea_id) REFERENCES ideas (subject_id, product_id, id),
    CHECK (end_date IS NULL OR start_date IS NULL OR start_date <= end_date)
);
CREATE INDEX plans_by_time ON plans (create_time, subject_id, product_id, id);

CREATE TABLE support_records (
    subject_id  text NOT NULL,
    product_id  text NOT NULL,
    plan_id     text NOT NULL,
    id          text NOT NULL,
    kind        text NOT NULL CHECK (kind IN ('training', 'credit', 'branding', 'technology', 'other')),
    description text NOT NULL,
    provider    text NOT NULL DEFAULT '',
    amount_vnd  bigint NOT NULL DEFAULT 0 CHECK (amount_vnd >= 0),
    date        date NOT NULL,
    create_time timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (subject_id, product_id, plan_id, id),
    FOREIGN KEY (subject_id, product_id, plan_id) REFERENCES plans (subject_id, product_id, id)
);
