-- Knock-outs, the product's commune, and the commune's assessment (Decision 1489/2025).
ALTER TABLE entries ADD COLUMN commune_code text NOT NULL DEFAULT '';
ALTER TABLE entries ADD COLUMN disqualifications jsonb NOT NULL DEFAULT '[]';
ALTER TABLE entries ADD COLUMN commune_assessment jsonb;
