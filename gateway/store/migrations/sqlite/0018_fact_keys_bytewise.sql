-- PostgreSQL's typed fact tables compare their keys byte by byte from here on (`COLLATE "C"`,
-- its migration of the same number). SQLite's text compares byte by byte already (BINARY):
-- nothing to change. Kept so that both folders number their migrations alike.
SELECT 1;
