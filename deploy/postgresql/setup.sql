-- PostgreSQL for one Xueliang node split by role (psql -U postgres -f setup.sql).
-- Change the password; put it in /etc/xueliang/xueliang.env (XUELIANG_DATABASE_URL).
CREATE ROLE xueliang LOGIN PASSWORD 'CHANGE-ME';
CREATE DATABASE xueliang OWNER xueliang ENCODING 'UTF8' TEMPLATE template0;
-- The audit table is append-only by trigger (migration 0001): the application role owns its tables
-- but must not be a superuser, so it cannot turn triggers off for a session.
ALTER ROLE xueliang NOSUPERUSER NOCREATEDB NOCREATEROLE;
