-- The dossier checklist of an entry: document → {status, note}; absent means missing.
ALTER TABLE entries ADD COLUMN dossier jsonb NOT NULL DEFAULT '{}';
