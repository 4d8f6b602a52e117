ALTER TABLE delivery_outcome DROP COLUMN IF EXISTS test;
ALTER TABLE delivery_outcome DROP COLUMN IF EXISTS source;
ALTER TABLE tracking_pixel DROP COLUMN IF EXISTS confirm_browser_conversions;
