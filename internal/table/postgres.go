package table

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// pgStore is the PostgreSQL side of a Table: one connection, which also
// holds the run's advisory lock on the table (a session lock: it goes
// when the connection does, a killed run's with it).
type pgStore struct {
	conn   *pgx.Conn
	schema string // where the tables are: the results table's schema, or the first on search_path
}

// openPostgres connects and takes the run's advisory lock on table;
// readOnly ([Read]) takes no lock and makes every transaction of the
// session read-only, so that nothing it runs can write.
func openPostgres(ctx context.Context, dsn, table string, readOnly bool) (*pgStore, error) {
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrName, Describe(dsn), err)
	}
	if readOnly {
		cfg.RuntimeParams["default_transaction_read_only"] = "on"
	}
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrUnreachable, Describe(dsn), err)
	}
	s := &pgStore{conn: conn}
	fail := func(err error) (*pgStore, error) {
		conn.Close(context.Background())
		return nil, err
	}
	// The tables live beside an existing results table, else in the
	// schema CREATE TABLE would pick: the first on search_path that exists.
	var found, current *string
	if err := conn.QueryRow(ctx, `SELECT (SELECT n.nspname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = to_regclass($1)), current_schema()`, quote(table)).Scan(&found, &current); err != nil {
		return fail(fmt.Errorf("%w: %s: %w", ErrUnreachable, Describe(dsn), err))
	}
	switch {
	case found != nil:
		s.schema = *found
	case current != nil:
		s.schema = *current
	default:
		return fail(fmt.Errorf("%w: %s: no schema to create %s in: search_path names none that exists", ErrName, Describe(dsn), table))
	}
	if readOnly {
		return s, nil
	}
	// A run killed a moment ago holds the lock until the server notices
	// its connection closed, which takes a moment: try for a little while.
	for try := 0; ; try++ {
		var locked bool
		if err := conn.QueryRow(ctx, "SELECT pg_try_advisory_lock(hashtextextended($1, 0))", "sluice:"+s.schema+"."+table).Scan(&locked); err != nil {
			return fail(fmt.Errorf("%w: %s: %w", ErrUnreachable, Describe(dsn), err))
		}
		if locked {
			return s, nil
		}
		if try == lockTries {
			return fail(fmt.Errorf("%s.%s: %w", s.schema, table, ErrInUse))
		}
		select {
		case <-ctx.Done():
			return fail(fmt.Errorf("%s.%s: %w", s.schema, table, ErrInUse))
		case <-time.After(lockWait):
		}
	}
}

// lockTries and lockWait are how long Open waits for the table's lock.
const (
	lockTries = 20
	lockWait  = 100 * time.Millisecond
)

func (s *pgStore) ident(name string) string {
	return `"` + strings.ReplaceAll(s.schema, `"`, `""`) + `".` + quote(name)
}

func (s *pgStore) typeOf(k kind) string {
	switch k {
	case kInt:
		return "integer"
	case kReal:
		return "double precision"
	case kJSON:
		return "jsonb"
	case kTime:
		return "timestamp with time zone"
	case kBytes:
		return "bytea"
	}
	return "text"
}

// pgAccepts are the declared types (as format_type writes them) a column
// of each kind may have: the values sluice sends are assigned to them
// without loss.
var pgAccepts = map[kind][]string{
	kText:  {"text", "character varying"},
	kInt:   {"integer", "bigint", "numeric"},
	kReal:  {"double precision", "numeric"},
	kJSON:  {"jsonb"},
	kTime:  {"timestamp with time zone"},
	kBytes: {"bytea"},
}

func (s *pgStore) accepts(k kind, declared string) bool {
	return slices.Contains(pgAccepts[k], declared)
}

func (s *pgStore) describe(ctx context.Context, name string) (existing, bool, error) {
	rows, err := s.conn.Query(ctx, `SELECT a.attname, format_type(a.atttypid, NULL), NOT a.attnotnull OR a.atthasdef,
		EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = a.attrelid AND i.indisunique AND i.indnkeyatts = 1 AND i.indkey[0] = a.attnum AND i.indpred IS NULL)
		FROM pg_attribute a WHERE a.attrelid = to_regclass($1) AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum`, s.ident(name))
	if err != nil {
		return existing{}, false, err
	}
	defer rows.Close()
	var t existing
	for rows.Next() {
		var d declared
		var unique bool
		if err := rows.Scan(&d.name, &d.typ, &d.nullable, &unique); err != nil {
			return existing{}, false, err
		}
		if d.name == "id" && unique {
			t.keyed = true
		}
		t.columns = append(t.columns, d)
	}
	if err := rows.Err(); err != nil {
		return existing{}, false, err
	}
	return t, len(t.columns) > 0, nil
}

func (s *pgStore) hasRows(ctx context.Context, name string) (bool, error) {
	var b bool
	err := s.conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM "+s.ident(name)+")").Scan(&b)
	return b, err
}

func (s *pgStore) exec(ctx context.Context, stmts ...string) error {
	return pgx.BeginFunc(ctx, s.conn, func(tx pgx.Tx) error {
		for _, st := range stmts {
			if _, err := tx.Exec(ctx, st); err != nil {
				return err
			}
		}
		return nil
	})
}

func (s *pgStore) load(ctx context.Context, table string, each func(id, fp string)) error {
	rows, err := s.conn.Query(ctx, "SELECT id, coalesce(fingerprint, '') FROM "+s.ident(table))
	if err != nil {
		return fmt.Errorf("table: reading %s: %w", table, err)
	}
	defer rows.Close()
	var id, fp string
	_, err = pgx.ForEachRow(rows, []any{&id, &fp}, func() error {
		each(id, fp)
		return nil
	})
	if err != nil {
		return fmt.Errorf("table: reading %s: %w", table, err)
	}
	return nil
}

// write sends the flush as one pipelined batch, which the server runs as
// one implicit transaction (one Sync at its end): one round trip however
// many rows. Each table's rows go as arrays, one a column, unnested into
// one INSERT.
func (s *pgStore) write(ctx context.Context, n names, results []resultRow, errs []errorRow, again []string) error {
	b := &pgx.Batch{}
	if len(again) > 0 {
		b.Queue("INSERT INTO "+s.ident(n.superseded)+" ("+columnList(resultColumns)+") SELECT "+columnList(resultColumns)+" FROM "+s.ident(n.results)+" WHERE id = ANY($1)", again)
		b.Queue("DELETE FROM "+s.ident(n.results)+" WHERE id = ANY($1)", again)
	}
	if len(results) > 0 {
		k := len(results)
		id, resp, respText, meta, req, reqID, fp := make([]string, k), make([]*string, k), make([]*string, k), make([]*string, k), make([]*string, k), make([]*string, k), make([]*string, k)
		line, status, attempts := make([]int32, k), make([]int32, k), make([]int32, k)
		in, out := make([]*int64, k), make([]*int64, k)
		elapsed, at := make([]float64, k), make([]time.Time, k)
		respBytes := make([][]byte, k) // a nil one is NULL; pgx sends the others as they are, in binary
		for i := range results {
			r := &results[i]
			id[i], line[i], status[i], resp[i], respText[i], respBytes[i], meta[i], req[i], reqID[i] = r.id, int32(r.line), int32(r.status), r.response, r.responseText, r.responseBytes, r.metadata, r.request, r.requestID
			attempts[i], elapsed[i], in[i], out[i], fp[i], at[i] = int32(r.attempts), r.elapsedMS, r.inputTokens, r.outputTokens, r.fingerprint, r.at
		}
		b.Queue("INSERT INTO "+s.ident(n.results)+" ("+columnList(resultColumns)+`)
			SELECT id, line, status, response::jsonb, response_text, response_bytes, metadata::jsonb, request, request_id, attempts, elapsed_ms, input_tokens, output_tokens, fingerprint, finished_at
			FROM unnest($1::text[], $2::int[], $3::int[], $4::text[], $5::text[], $6::bytea[], $7::text[], $8::text[], $9::text[], $10::int[], $11::float8[], $12::bigint[], $13::bigint[], $14::text[], $15::timestamptz[])
			AS u(id, line, status, response, response_text, response_bytes, metadata, request, request_id, attempts, elapsed_ms, input_tokens, output_tokens, fingerprint, finished_at)`,
			id, line, status, resp, respText, respBytes, meta, req, reqID, attempts, elapsed, in, out, fp, at)
	}
	if len(errs) > 0 {
		k := len(errs)
		id, msg, class, respText, reqID, meta, req := make([]*string, k), make([]string, k), make([]string, k), make([]*string, k), make([]*string, k), make([]*string, k), make([]*string, k)
		line, attempts := make([]int32, k), make([]int32, k)
		status := make([]*int64, k)
		at := make([]time.Time, k)
		respBytes := make([][]byte, k)
		for i := range errs {
			e := &errs[i]
			id[i], line[i], class[i], status[i], msg[i], respText[i], respBytes[i], reqID[i], attempts[i], meta[i], req[i], at[i] = e.id, int32(e.line), e.class, e.status, e.message, e.responseText, e.responseBytes, e.requestID, int32(e.attempts), e.metadata, e.request, e.at
		}
		b.Queue("INSERT INTO "+s.ident(n.errors)+" ("+columnList(errorColumns)+`)
			SELECT id, line, class, status, message, response_text, response_bytes, request_id, attempts, metadata::jsonb, request, failed_at
			FROM unnest($1::text[], $2::int[], $3::text[], $4::bigint[], $5::text[], $6::text[], $7::bytea[], $8::text[], $9::int[], $10::text[], $11::text[], $12::timestamptz[])
			AS u(id, line, class, status, message, response_text, response_bytes, request_id, attempts, metadata, request, failed_at)`,
			id, line, class, status, msg, respText, respBytes, reqID, attempts, meta, req, at)
	}
	err := s.conn.SendBatch(ctx, b).Close()
	var pe *pgconn.PgError
	if errors.As(err, &pe) && pe.Code == "23505" {
		return fmt.Errorf("%w (is another run writing to %s?)", err, n.results)
	}
	return err
}

func (s *pgStore) close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return s.conn.Close(ctx)
}
