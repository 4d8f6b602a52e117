-- 003: per-pixel confirmation of browser conversions, and per-outcome
-- source and test flag (events API, issue 6). See the PostgreSQL migration
-- of the same number for the meaning of each column.
ALTER TABLE tracking_pixel ADD COLUMN confirm_browser_conversions INTEGER NOT NULL DEFAULT 0;
ALTER TABLE delivery_outcome ADD COLUMN source TEXT NOT NULL DEFAULT '';
ALTER TABLE delivery_outcome ADD COLUMN test INTEGER NOT NULL DEFAULT 0;
