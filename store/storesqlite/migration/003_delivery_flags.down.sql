ALTER TABLE delivery_outcome DROP COLUMN test;
ALTER TABLE delivery_outcome DROP COLUMN source;
ALTER TABLE tracking_pixel DROP COLUMN confirm_browser_conversions;
