-- 003: per-pixel confirmation of browser conversions, and per-outcome
-- source and test flag (events API, issue 6).
--
-- confirm_browser_conversions: deliver a browser-sourced conversion to this
-- pixel only when a server copy confirms it within the merge window.
-- delivery_outcome.source: the source of the copy the outcome is about
-- (client|server|both; '' on rows written before 003). The recent view
-- derives event_source = both from it (the audit row is never updated).
-- delivery_outcome.test: the pixel had a test_event_code when the outcome was
-- written (debug mode).
ALTER TABLE tracking_pixel ADD COLUMN confirm_browser_conversions boolean NOT NULL DEFAULT false;
ALTER TABLE delivery_outcome ADD COLUMN source text NOT NULL DEFAULT '';
ALTER TABLE delivery_outcome ADD COLUMN test boolean NOT NULL DEFAULT false;
