-- Fields of an accepted event that Nango's types do not declare: kept in
-- the body and delivered, listed here (a JSON array, '' when none).
ALTER TABLE events ADD COLUMN unknown_fields text NOT NULL DEFAULT '';
