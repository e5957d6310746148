-- A province officer reads the audit log of their province only
-- (ocop.audit.v1.AuditService): this index serves that read newest first,
-- as registry and evaluation have had since their first migrations.
CREATE INDEX audit_events_by_province ON audit_events (province_code, sequence);
