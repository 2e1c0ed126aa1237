package store

import (
	"errors"

	"github.com/jackc/pgx/v5/pgconn"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// dialect holds the few differences between the engines; queries stay
// shared and ask the dialect for a named fragment.
type dialect interface {
	name() string
	// isUniqueViolation reports whether err is a unique constraint error.
	isUniqueViolation(err error) bool
	// skipLocked is appended to SELECT ... queries whose rows the caller
	// is about to update, so concurrent sweepers on PostgreSQL take
	// different rows. SQLite has one writer and needs nothing.
	skipLocked() string
}

type sqliteDialect struct{}

func (sqliteDialect) name() string       { return SQLite }
func (sqliteDialect) skipLocked() string { return "" }
func (sqliteDialect) isUniqueViolation(err error) bool {
	var se *sqlite.Error
	if errors.As(err, &se) {
		c := se.Code()
		return c == sqlite3.SQLITE_CONSTRAINT_UNIQUE || c == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY
	}
	return false
}

type postgresDialect struct{}

func (postgresDialect) name() string       { return Postgres }
func (postgresDialect) skipLocked() string { return " FOR UPDATE SKIP LOCKED" }
func (postgresDialect) isUniqueViolation(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == "23505"
}
