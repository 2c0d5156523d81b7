-- Who is finding or creating a workshop's guardrail right now. Replicas racing at the first
-- claim take turns on this row, so OpenRouter gets one guardrail per workshop.
CREATE TABLE guardrail_leases (
    workshop_slug TEXT PRIMARY KEY,
    holder        TEXT NOT NULL,
    expires_at    TEXT NOT NULL
);
