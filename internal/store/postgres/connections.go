package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	herald "github.com/heraldhq/herald"
)

const connectionCols = `environment_id, provider_config_key, connection_id, connection_config, metadata, tags,
	webhook_url_override, created_at, updated_at`

func scanConnection(row pgx.Row) (*herald.Connection, error) {
	var c herald.Connection
	var cfg, meta, tags string
	if err := row.Scan(&c.EnvironmentID, &c.ProviderConfigKey, &c.ConnectionID, &cfg, &meta, &tags,
		&c.WebhookURLOverride, &c.CreatedAt, &c.UpdatedAt); err != nil {
		if errors.Is(err, pgx.ErrNoRows) {
			return nil, herald.ErrNotFound
		}
		return nil, fmt.Errorf("scan connection: %w", wrap(err))
	}
	c.ConnectionConfig, c.Metadata, c.Tags = []byte(cfg), []byte(meta), []byte(tags)
	c.CreatedAt, c.UpdatedAt = c.CreatedAt.UTC(), c.UpdatedAt.UTC()
	return &c, nil
}

func (s *Store) queryConnections(ctx context.Context, what, q string, args ...any) ([]herald.Connection, error) {
	rows, err := s.pool.Query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, wrap(err))
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
		return nil, fmt.Errorf("%s: %w", what, wrap(err))
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

// PutConnection creates or replaces c, rewrites the keys it is found by
// and makes the endpoint of its webhook_url_override; when the override
// is or was set, the change is announced. A replaced connection keeps its
// created_at, which is set back into c.
func (s *Store) PutConnection(ctx context.Context, c *herald.Connection) (bool, error) {
	keys := herald.ConnectionKeys(c)
	fields, names, values := make([]string, len(keys)), make([]string, len(keys)), make([]string, len(keys))
	for i, k := range keys {
		fields[i], names[i], values[i] = k.Field, k.Name, k.Value
	}
	var created bool
	var createdAt time.Time
	err := s.announce(ctx, "put connection", c.EnvironmentID, func(tx pgx.Tx) (bool, error) {
		// The row is locked first, so that concurrent writes of one
		// connection take turns and each sees the override it replaces.
		var old string
		err := tx.QueryRow(ctx, `SELECT webhook_url_override FROM connections
			WHERE environment_id = $1 AND provider_config_key = $2 AND connection_id = $3 FOR UPDATE`,
			c.EnvironmentID, c.ProviderConfigKey, c.ConnectionID).Scan(&old)
		if err != nil && !errors.Is(err, pgx.ErrNoRows) {
			return false, err
		}
		// xmax is 0 on a row this statement inserted, and set on one it
		// updated.
		if err := tx.QueryRow(ctx, `INSERT INTO connections (`+connectionCols+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
			ON CONFLICT (environment_id, provider_config_key, connection_id) DO UPDATE SET
				connection_config = EXCLUDED.connection_config, metadata = EXCLUDED.metadata, tags = EXCLUDED.tags,
				webhook_url_override = EXCLUDED.webhook_url_override, updated_at = EXCLUDED.updated_at
			RETURNING created_at, xmax = 0`,
			c.EnvironmentID, c.ProviderConfigKey, c.ConnectionID, jsonObject(c.ConnectionConfig), jsonObject(c.Metadata),
			jsonObject(c.Tags), c.WebhookURLOverride, c.CreatedAt, c.UpdatedAt).Scan(&createdAt, &created); err != nil {
			return false, err
		}
		if !created {
			if _, err := tx.Exec(ctx, `DELETE FROM connection_keys
				WHERE environment_id = $1 AND provider_config_key = $2 AND connection_id = $3`,
				c.EnvironmentID, c.ProviderConfigKey, c.ConnectionID); err != nil {
				return false, err
			}
		}
		if c.WebhookURLOverride != "" {
			// The override's endpoint, made with the connection.
			if err := addEndpoints(ctx, tx, c.EnvironmentID, []string{c.WebhookURLOverride}, c.UpdatedAt); err != nil {
				return false, err
			}
		}
		if len(keys) > 0 {
			if _, err := tx.Exec(ctx, `INSERT INTO connection_keys (environment_id, provider_config_key, field, name, value, connection_id)
				SELECT $1, $2, k.field, k.name, k.value, $3 FROM unnest($4::text[], $5::text[], $6::text[]) AS k(field, name, value)`,
				c.EnvironmentID, c.ProviderConfigKey, c.ConnectionID, fields, names, values); err != nil {
				return false, err
			}
		}
		return old != "" || c.WebhookURLOverride != "", nil
	})
	if err != nil {
		return false, err
	}
	if !created {
		c.CreatedAt = createdAt.UTC()
	}
	return created, nil
}

// Connection returns one connection of envID.
func (s *Store) Connection(ctx context.Context, envID, providerConfigKey, connectionID string) (*herald.Connection, error) {
	return scanConnection(s.pool.QueryRow(ctx, `SELECT `+connectionCols+` FROM connections
		WHERE environment_id = $1 AND provider_config_key = $2 AND connection_id = $3`, envID, providerConfigKey, connectionID))
}

// ListConnections lists envID's connections (of one integration, unless
// providerConfigKey is "") by provider config key and connection id, after
// page.Cursor (a herald.ConnectionCursor).
func (s *Store) ListConnections(ctx context.Context, envID, providerConfigKey string, page herald.Page) ([]herald.Connection, error) {
	q := `SELECT ` + connectionCols + ` FROM connections WHERE environment_id = $1`
	args := []any{envID}
	if providerConfigKey != "" {
		args = append(args, providerConfigKey)
		q += fmt.Sprintf(` AND provider_config_key = $%d`, len(args))
	}
	if page.Cursor != "" {
		pck, conn, _ := strings.Cut(page.Cursor, "\n")
		args = append(args, pck, conn)
		q += fmt.Sprintf(` AND (provider_config_key, connection_id) > ($%d, $%d)`, len(args)-1, len(args))
	}
	args = append(args, page.Limit)
	return s.queryConnections(ctx, "list connections",
		fmt.Sprintf(q+` ORDER BY provider_config_key, connection_id LIMIT $%d`, len(args)), args...)
}

// DeleteConnection deletes a connection and, by cascade, its keys; when
// it had a webhook_url_override, the change is announced.
func (s *Store) DeleteConnection(ctx context.Context, envID, providerConfigKey, connectionID string) error {
	return s.announce(ctx, "delete connection", envID, func(tx pgx.Tx) (bool, error) {
		var old string
		err := tx.QueryRow(ctx, `DELETE FROM connections WHERE environment_id = $1 AND provider_config_key = $2 AND connection_id = $3
			RETURNING webhook_url_override`, envID, providerConfigKey, connectionID).Scan(&old)
		if errors.Is(err, pgx.ErrNoRows) {
			return false, herald.ErrNotFound
		}
		return old != "", err
	})
}

// MatchConnections returns the connections of one integration that have
// any of keys or whose id is one of ids, by connection id, each once, in
// one query: the keys are looked up by primary key, and IN deduplicates.
func (s *Store) MatchConnections(ctx context.Context, envID, providerConfigKey string, keys []herald.ConnectionKey, ids []string) ([]herald.Connection, error) {
	keys, ids = herald.StorableKeys(keys), herald.StorableIDs(ids)
	if len(keys) == 0 && len(ids) == 0 {
		return nil, nil
	}
	fields, names, values := make([]string, len(keys)), make([]string, len(keys)), make([]string, len(keys))
	for i, k := range keys {
		fields[i], names[i], values[i] = k.Field, k.Name, k.Value
	}
	return s.queryConnections(ctx, "match connections", `SELECT `+connectionCols+` FROM connections
		WHERE environment_id = $1 AND provider_config_key = $2 AND connection_id IN (
			SELECT k.connection_id FROM unnest($3::text[], $4::text[], $5::text[]) AS q(field, name, value)
				JOIN connection_keys k ON k.environment_id = $1 AND k.provider_config_key = $2
					AND k.field = q.field AND k.name = q.name AND k.value = q.value
			UNION ALL SELECT unnest($6::text[]))
		ORDER BY connection_id`, envID, providerConfigKey, fields, names, values, ids)
}

// URLOverrides returns the non-blank webhook_url_override of each of refs
// that has one, in one query of primary-key lookups.
func (s *Store) URLOverrides(ctx context.Context, envID string, refs []herald.ConnectionRef) (map[herald.ConnectionRef]string, error) {
	out := map[herald.ConnectionRef]string{}
	refs = herald.StorableRefs(refs)
	if len(refs) == 0 {
		return out, nil
	}
	pcks, conns := make([]string, len(refs)), make([]string, len(refs))
	for i, r := range refs {
		pcks[i], conns[i] = r.ProviderConfigKey, r.ConnectionID
	}
	rows, err := s.pool.Query(ctx, `SELECT c.provider_config_key, c.connection_id, c.webhook_url_override
		FROM unnest($2::text[], $3::text[]) AS r(pck, conn)
		JOIN connections c ON c.environment_id = $1 AND c.provider_config_key = r.pck AND c.connection_id = r.conn
		WHERE c.webhook_url_override <> ''`, envID, pcks, conns)
	if err != nil {
		return nil, fmt.Errorf("url overrides: %w", wrap(err))
	}
	defer rows.Close()
	for rows.Next() {
		var r herald.ConnectionRef
		var url string
		if err := rows.Scan(&r.ProviderConfigKey, &r.ConnectionID, &url); err != nil {
			return nil, fmt.Errorf("url overrides: %w", wrap(err))
		}
		if strings.TrimSpace(url) != "" {
			out[r] = url
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("url overrides: %w", wrap(err))
	}
	return out, nil
}
