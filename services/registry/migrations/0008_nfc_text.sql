-- Every text now arrives in Unicode NFC (the boundary checks compose it, see
-- libs/proto/src/boundary.rs). Rows written before may hold decomposed text
-- (NFD, as many Vietnamese keyboards send it), which search could not match:
-- compose them once, so stored and searched text have one spelling. The
-- generated search columns follow.
UPDATE subjects SET legal_name = normalize(legal_name, NFC)
    WHERE legal_name IS NOT NFC NORMALIZED;
UPDATE products SET display_name = normalize(display_name, NFC)
    WHERE display_name IS NOT NFC NORMALIZED;
UPDATE national_products SET display_name = normalize(display_name, NFC)
    WHERE display_name IS NOT NFC NORMALIZED;
