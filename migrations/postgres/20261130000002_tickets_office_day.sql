-- tickets_number_key (office_id, service_date, display) already serves every lookup of an
-- office's day; the second index only cost every ticket an index write.
DROP INDEX tickets_office_day;
