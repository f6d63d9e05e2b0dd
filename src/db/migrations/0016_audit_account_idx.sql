-- A member reads the audit events of its own account only (src/core/audit/service.ts): keyset pages of one
-- account's events, in id order, without scanning the organization's whole log.
CREATE INDEX audit_events_account_idx ON audit_events (organization_id, account_id, id);
