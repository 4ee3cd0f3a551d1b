package sqlite

import (
	"context"
	"errors"
	"fmt"

	"modernc.org/sqlite"
)

// walFrameHeader is the size of the header SQLite writes before every
// page in the write-ahead log.
const walFrameHeader = 24

// WALBytes is how many bytes the store's writer connection has written to
// the write-ahead log since the store was opened: SQLite's count of pages
// the connection's page cache wrote to the log (SQLITE_DBSTATUS_CACHE_WRITE;
// in WAL mode, one per frame) times the size of a frame, the page and its
// 24-byte header.
//
// Every write of the store goes through that one connection, so this is
// all the store writes to the log: the migrations applied at open, then
// every commit. (On a new file it also counts one page that is not in the
// log: the first page, written to the database file when the file is
// switched to WAL mode.) It leaves out the log's 32-byte file header, written again
// each time the log starts over, and the checkpoints, which copy frames
// from the log into the database file and write none. A frame is counted
// when it is written, whether it is appended or overwrites an earlier
// frame of the same transaction (SQLite does that for a page that was
// spilled from the cache before its transaction committed): it is bytes
// written, not the growth of the file, which stops when the log starts
// over from its beginning.
//
// It waits for the writer's transaction in progress, if any: the writer
// has one connection. SQLite keeps the count in 32 bits; read as unsigned,
// it wraps after 2³² frames (16 TiB of 4 KiB pages).
func (s *Store) WALBytes(ctx context.Context) (int64, error) {
	conn, err := s.w.Conn(ctx)
	if err != nil {
		return 0, fmt.Errorf("sqlite: wal bytes: %w", err)
	}
	defer conn.Close()
	var pageSize int64
	if err := conn.QueryRowContext(ctx, `PRAGMA page_size`).Scan(&pageSize); err != nil {
		return 0, fmt.Errorf("sqlite: wal bytes: page size: %w", err)
	}
	var frames int64
	err = conn.Raw(func(dc any) error {
		st, ok := dc.(sqlite.DBStatus)
		if !ok {
			return errors.New("the driver's connection has no sqlite3_db_status")
		}
		n, _, err := st.Status(sqlite.DBStatusCacheWrite, false)
		frames = int64(uint32(n))
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("sqlite: wal bytes: %w", err)
	}
	return frames * (pageSize + walFrameHeader), nil
}
