package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	herald "github.com/heraldhq/herald"
	_ "modernc.org/sqlite" // registers the "sqlite" driver
)

const connectionCols = `environment_id, provider_config_key, connection_id, connection_config, metadata, tags,
	webhook_url_override, created_at, updated_at`

func scanConnection(row scanner) (*herald.Connection, error) {
	var c herald.Connection
	var cfg, meta, tags string
	var created, updated int64
	if err := row.Scan(&c.EnvironmentID, &c.ProviderConfigKey, &c.ConnectionID, &cfg, &meta, &tags,
		&c.WebhookURLOverride, &created, &updated); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return nil, herald.ErrNotFound
		}
		return nil, fmt.Errorf("scan connection: %w", unavailable(err))
	}
	c.ConnectionConfig, c.Metadata, c.Tags = []byte(cfg), []byte(meta), []byte(tags)
	c.CreatedAt, c.UpdatedAt = fromMS(created), fromMS(updated)
	return &c, nil
}

func (s *Store) queryConnections(ctx context.Context, what, q string, args ...any) ([]herald.Connection, error) {
	rows, err := s.r.QueryContext(ctx, q, args...)
	return s.scanConnections(what, rows, err)
}

// scanConnections reads the connections of a query's rows.
func (s *Store) scanConnections(what string, rows *sql.Rows, err error) ([]herald.Connection, error) {
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, unavailable(err))
	}
	defer rows.Close()
	out := []herald.Connection{}
	for rows.Next() {
		c, err := scanConnection(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, *c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", what, unavailable(err))
	}
	return out, nil
}

// jsonObject is a connection's JSON column as stored: nil is {}.
func jsonObject(b []byte) string {
	if b == nil {
		return "{}"
	}
	return string(b)
}

// PutConnection creates or replaces c and rewrites the keys it is found
// by, and makes the endpoint of its override when it is new. A replaced
// connection keeps its created_at, which is set back into c.
func (s *Store) PutConnection(ctx context.Context, c *herald.Connection) (bool, error) {
	keys := herald.ConnectionKeys(c)
	cfg, meta, tags := jsonObject(c.ConnectionConfig), jsonObject(c.Metadata), jsonObject(c.Tags)
	var created bool
	var createdAt int64
	updated := c.UpdatedAt
	if updated.IsZero() {
		updated = time.Now()
	}
	err := s.write(ctx, func(ctx context.Context, tx *sql.Tx) error {
		// One writer: nothing can come between the read and the writes.
		err := tx.QueryRowContext(ctx, `SELECT created_at FROM connections
			WHERE environment_id = ? AND provider_config_key = ? AND connection_id = ?`,
			c.EnvironmentID, c.ProviderConfigKey, c.ConnectionID).Scan(&createdAt)
		created = errors.Is(err, sql.ErrNoRows)
		if err != nil && !created {
			return fmt.Errorf("put connection: %w", unavailable(err))
		}
		if created {
			createdAt = ms(c.CreatedAt)
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO connections (`+connectionCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (environment_id, provider_config_key, connection_id) DO UPDATE SET
				connection_config = excluded.connection_config, metadata = excluded.metadata, tags = excluded.tags,
				webhook_url_override = excluded.webhook_url_override, updated_at = excluded.updated_at`,
			c.EnvironmentID, c.ProviderConfigKey, c.ConnectionID, cfg, meta, tags, c.WebhookURLOverride, createdAt, ms(c.UpdatedAt))
		if isForeignKey(err) {
			return herald.ErrEnvironmentDeleted
		}
		if err != nil {
			return fmt.Errorf("put connection: %w", unavailable(err))
		}
		if c.WebhookURLOverride != "" {
			if err := ensureEndpoints(ctx, tx, c.EnvironmentID, []string{c.WebhookURLOverride}, updated); err != nil {
				return err
			}
		}
		if !created {
			if _, err := tx.ExecContext(ctx, `DELETE FROM connection_keys
				WHERE environment_id = ? AND provider_config_key = ? AND connection_id = ?`,
				c.EnvironmentID, c.ProviderConfigKey, c.ConnectionID); err != nil {
				return fmt.Errorf("put connection: old keys: %w", unavailable(err))
			}
		}
		if len(keys) == 0 {
			return nil
		}
		args := make([]any, 0, 6*len(keys))
		for _, k := range keys {
			args = append(args, c.EnvironmentID, c.ProviderConfigKey, k.Field, k.Name, k.Value, c.ConnectionID)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO connection_keys (environment_id, provider_config_key, field, name, value,
			connection_id) VALUES `+placeholders(len(keys), "(?, ?, ?, ?, ?, ?)"), args...); err != nil {
			return fmt.Errorf("put connection: keys: %w", unavailable(err))
		}
		return nil
	})
	if err != nil {
		return false, err
	}
	if !created {
		c.CreatedAt = fromMS(createdAt)
	}
	return created, nil
}

// placeholders repeats one row of placeholders n times, comma-separated.
func placeholders(n int, row string) string {
	return strings.TrimSuffix(strings.Repeat(row+", ", n), ", ")
}

// Connection returns one connection of envID.
func (s *Store) Connection(ctx context.Context, envID, providerConfigKey, connectionID string) (*herald.Connection, error) {
	return scanConnection(s.r.QueryRowContext(ctx, `SELECT `+connectionCols+` FROM connections
		WHERE environment_id = ? AND provider_config_key = ? AND connection_id = ?`, envID, providerConfigKey, connectionID))
}

// ListConnections lists envID's connections (of one integration, unless
// providerConfigKey is "") by provider config key and connection id, after
// page.Cursor (a herald.ConnectionCursor).
func (s *Store) ListConnections(ctx context.Context, envID, providerConfigKey string, page herald.Page) ([]herald.Connection, error) {
	q := `SELECT ` + connectionCols + ` FROM connections WHERE environment_id = ?`
	args := []any{envID}
	if providerConfigKey != "" {
		q += ` AND provider_config_key = ?`
		args = append(args, providerConfigKey)
	}
	if page.Cursor != "" {
		pck, conn, _ := strings.Cut(page.Cursor, "\n")
		q += ` AND (provider_config_key, connection_id) > (?, ?)`
		args = append(args, pck, conn)
	}
	return s.queryConnections(ctx, "list connections", q+` ORDER BY provider_config_key, connection_id LIMIT ?`,
		append(args, page.Limit)...)
}

// DeleteConnection deletes a connection and, by cascade, its keys.
func (s *Store) DeleteConnection(ctx context.Context, envID, providerConfigKey, connectionID string) error {
	return s.write(ctx, func(ctx context.Context, tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM connections WHERE environment_id = ? AND provider_config_key = ? AND connection_id = ?`,
			envID, providerConfigKey, connectionID)
		if err != nil {
			return fmt.Errorf("delete connection: %w", unavailable(err))
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return herald.ErrNotFound
		}
		return nil
	})
}

// MatchConnections returns the connections of one integration that have
// any of keys or whose id is one of ids, by connection id, each once: one
// primary-key lookup per key (a UNION ALL, which the planner never turns
// into a scan of the integration's keys), deduplicated by IN.
func (s *Store) MatchConnections(ctx context.Context, envID, providerConfigKey string, keys []herald.ConnectionKey, ids []string) ([]herald.Connection, error) {
	keys, ids = herald.StorableKeys(keys), herald.StorableIDs(ids)
	if len(keys) == 0 && len(ids) == 0 {
		return nil, nil
	}
	args := []any{envID, providerConfigKey}
	for _, k := range keys {
		args = append(args, envID, providerConfigKey, k.Field, k.Name, k.Value)
	}
	for _, id := range ids {
		args = append(args, id)
	}
	stmt, err := s.matchStmt(ctx, len(keys), len(ids))
	if err != nil {
		return nil, fmt.Errorf("match connections: %w", unavailable(err))
	}
	if stmt == nil {
		return s.queryConnections(ctx, "match connections", matchQuery(len(keys), len(ids)), args...)
	}
	rows, err := stmt.QueryContext(ctx, args...)
	return s.scanConnections("match connections", rows, err)
}

// matchQuery is MatchConnections' query for keys keys and ids ids: one
// primary-key lookup per key (a row-value IN or an OR makes SQLite scan
// the integration's keys), and the ids.
func matchQuery(keys, ids int) string {
	var sub []string
	for range keys {
		sub = append(sub, `SELECT connection_id FROM connection_keys
			WHERE environment_id = ? AND provider_config_key = ? AND field = ? AND name = ? AND value = ?`)
	}
	if ids > 0 {
		sub = append(sub, `VALUES `+placeholders(ids, "(?)"))
	}
	return `SELECT ` + connectionCols + ` FROM connections
		WHERE environment_id = ? AND provider_config_key = ? AND connection_id IN (` + strings.Join(sub, " UNION ALL ") + `)
		ORDER BY connection_id`
}

// maxPreparedMatch bounds the shapes of MatchConnections kept prepared:
// every provider webhook routes through it, most with one to a few keys.
const maxPreparedMatch = 4

// matchStmt returns the prepared MatchConnections statement for the shape,
// preparing it once; nil for a shape too large to keep.
func (s *Store) matchStmt(ctx context.Context, keys, ids int) (*sql.Stmt, error) {
	if keys > maxPreparedMatch || ids > maxPreparedMatch {
		return nil, nil
	}
	shape := [2]int{keys, ids}
	if st, ok := s.matches.Load(shape); ok {
		return st.(*sql.Stmt), nil
	}
	st, err := s.r.PrepareContext(ctx, matchQuery(keys, ids))
	if err != nil {
		return nil, err
	}
	if prev, loaded := s.matches.LoadOrStore(shape, st); loaded {
		st.Close()
		return prev.(*sql.Stmt), nil
	}
	return st, nil
}

// URLOverrides returns the non-blank webhook_url_override of each of refs
// that has one: one primary-key lookup per ref.
func (s *Store) URLOverrides(ctx context.Context, envID string, refs []herald.ConnectionRef) (map[herald.ConnectionRef]string, error) {
	out := map[herald.ConnectionRef]string{}
	refs = herald.StorableRefs(refs)
	if len(refs) == 0 {
		return out, nil
	}
	args := make([]any, 0, 1+2*len(refs))
	args = append(args, envID)
	for _, r := range refs {
		args = append(args, r.ProviderConfigKey, r.ConnectionID)
	}
	rows, err := s.r.QueryContext(ctx, `SELECT provider_config_key, connection_id, webhook_url_override FROM connections
		WHERE environment_id = ? AND webhook_url_override <> '' AND (`+
		strings.TrimSuffix(strings.Repeat(`(provider_config_key = ? AND connection_id = ?) OR `, len(refs)), " OR ")+`)`, args...)
	if err != nil {
		return nil, fmt.Errorf("url overrides: %w", unavailable(err))
	}
	defer rows.Close()
	for rows.Next() {
		var r herald.ConnectionRef
		var url string
		if err := rows.Scan(&r.ProviderConfigKey, &r.ConnectionID, &url); err != nil {
			return nil, fmt.Errorf("url overrides: %w", unavailable(err))
		}
		if strings.TrimSpace(url) != "" {
			out[r] = url
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("url overrides: %w", unavailable(err))
	}
	return out, nil
}
