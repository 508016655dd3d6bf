package postgres

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/jackc/pgx/v5"
)

// DefaultConnectionEnv is the environment variable that holds the connection
// string when a spec gives neither connection nor connectionEnv.
const DefaultConnectionEnv = "WEIR_POSTGRES_URL"

// maxIdentifierBytes is PostgreSQL's limit on a name (NAMEDATALEN - 1).
const maxIdentifierBytes = 63

// ConnOptions are the connection options shared by the source and the sink.
type ConnOptions struct {
	// Connection is a libpq connection string or URL. Prefer ConnectionEnv for
	// one that holds a password: a job spec is not a secret.
	Connection string `json:"connection"`
	// ConnectionEnv names the environment variable that holds the connection
	// string (default WEIR_POSTGRES_URL).
	ConnectionEnv string `json:"connectionEnv"`
}

// resolve returns the parsed connection configuration, or errors naming the
// option. Errors never show the connection string: it may hold a password.
func (o ConnOptions) resolve(bad func(option, format string, args ...any)) *pgx.ConnConfig {
	conn, option := o.Connection, "connection"
	switch {
	case o.Connection != "" && o.ConnectionEnv != "":
		bad("connectionEnv", "give connection or connectionEnv, not both")
		return nil
	case o.Connection == "":
		env := o.ConnectionEnv
		if env == "" {
			env = DefaultConnectionEnv
		}
		option = "connectionEnv"
		conn = os.Getenv(env)
		if conn == "" {
			bad(option, "environment variable %s is not set or empty (it holds the connection string; or give option connection)", env)
			return nil
		}
	}
	cfg, err := pgx.ParseConfig(conn)
	if err != nil {
		// NB: pgx's message quotes the string with the password masked, but
		// say less still: only that it does not parse.
		bad(option, "the connection string does not parse (not shown: it may hold a password): %v", redact(err))
		return nil
	}
	return cfg
}

// redact keeps only the last part of a connection-string parse error, which
// says what is wrong without quoting the string.
func redact(err error) string {
	msg := err.Error()
	if i := strings.LastIndex(msg, ": "); i >= 0 {
		return msg[i+2:]
	}
	return "invalid"
}

// connect opens one connection.
func connect(ctx context.Context, cfg *pgx.ConnConfig) (*pgx.Conn, error) {
	c, err := pgx.ConnectConfig(ctx, cfg.Copy())
	if err != nil {
		return nil, fmt.Errorf("connect to %s:%d: %w", cfg.Host, cfg.Port, err)
	}
	return c, nil
}

// checkTable checks a table name: a name, or schema.name, each part
// 1..63 bytes of letters, digits and '_' not starting with a digit, so it
// needs no quoting and means the same to every tool that reads the table.
func checkTable(name string) error {
	if name == "" {
		return errors.New("required: the table name")
	}
	parts := strings.Split(name, ".")
	if len(parts) > 2 {
		return fmt.Errorf("%q has more than one '.'; give table or schema.table", name)
	}
	for _, p := range parts {
		if err := checkName(p); err != nil {
			return fmt.Errorf("%q: %w", name, err)
		}
	}
	return nil
}

// checkName checks one unquoted SQL name (see checkTable).
func checkName(p string) error {
	if p == "" {
		return errors.New("has an empty name part")
	}
	if len(p) > maxIdentifierBytes {
		return fmt.Errorf("name %q is longer than %d bytes", p, maxIdentifierBytes)
	}
	for i, c := range []byte(p) {
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_' || i > 0 && c >= '0' && c <= '9'
		if !ok {
			return fmt.Errorf("name %q has %q; use letters, digits (not first) and '_'", p, c)
		}
	}
	return nil
}

// ident quotes a checked table or column name for SQL.
func ident(name string) string {
	return pgx.Identifier(strings.Split(name, ".")).Sanitize()
}

// identParts splits a checked table name for pgx.CopyFrom.
func identParts(name string) pgx.Identifier { return pgx.Identifier(strings.Split(name, ".")) }
