package sqlite_test

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/uuid"

	herald "github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/store/sqlite"
)

// walHeader and walFrameHeader are the sizes of the write-ahead log's file
// header and of the header before each page in it.
const (
	walHeader      = 32
	walFrameHeader = 24
)

// TestWALBytes checks WALBytes against the log itself: its length in
// frames (PRAGMA wal_checkpoint's second column) and the file's size.
//
// The store's checkpointer copies the log into the database every 500 ms,
// after which the next write starts the log over from its beginning, and
// neither the frame count nor the file would follow the writes any more.
// A read transaction held open on another connection prevents that: from
// the first write after it began, frames stay in the log. (A reader that
// began with the log all copied reads the database file alone, and does
// not keep the log from starting over at that first write; it does keep
// the checkpointer from copying anything after it.)
func TestWALBytes(t *testing.T) {
	for _, opts := range []sqlite.Options{{}, {SyncFull: true}} {
		t.Run(fmt.Sprintf("SyncFull=%v", opts.SyncFull), func(t *testing.T) {
			testWALBytes(t, opts)
		})
	}
}

func testWALBytes(t *testing.T, opts sqlite.Options) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "herald.db")
	s, err := sqlite.Open(ctx, path, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	opened, err := s.WALBytes(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if opened <= 0 {
		t.Errorf("WALBytes after open (the migrations) = %d, want > 0", opened)
	}

	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	db.SetMaxOpenConns(2)
	var pageSize int64
	if err := db.QueryRow(`PRAGMA page_size`).Scan(&pageSize); err != nil {
		t.Fatal(err)
	}
	frame := pageSize + walFrameHeader
	pin, err := db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer pin.Rollback()
	var n int
	if err := pin.QueryRow(`SELECT count(*) FROM schema_migrations`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	env := walEnv(t, s)

	// frames is the log's length in frames now; the checkpoint copies
	// nothing that matters here (PASSIVE: it waits for no one).
	frames := func() int64 {
		t.Helper()
		var busy, log, copied int64
		if err := db.QueryRow(`PRAGMA wal_checkpoint(PASSIVE)`).Scan(&busy, &log, &copied); err != nil {
			t.Fatal(err)
		}
		return log
	}
	size := func() int64 {
		t.Helper()
		fi, err := os.Stat(path + "-wal")
		if err != nil {
			t.Fatal(err)
		}
		return fi.Size()
	}
	wal := func() int64 {
		t.Helper()
		b, err := s.WALBytes(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	bytes0, frames0, size0 := wal(), frames(), size()

	// Write until the log is longer than the file was (it may have
	// started over at walEnv's write, leaving older frames behind it), in
	// commits of every size: small events, and one with a body that
	// needs overflow pages.
	events := 0
	for i := 0; frames()*frame+walHeader <= size0+64*frame; i++ {
		if i == 200 {
			t.Fatalf("the log is %d frames after %d events; the file was %d bytes", frames(), events, size0)
		}
		body := bytes.Repeat([]byte("x"), 300)
		if i%5 == 0 {
			body = bytes.Repeat([]byte("y"), 40_000)
		}
		var recs []herald.EventRecord
		for range i%7 + 1 {
			recs = append(recs, walEvent(env.ID, body))
		}
		if _, err := s.Ingest(ctx, herald.IngestRequest{EnvironmentID: env.ID, Events: recs, Now: time.Now()}); err != nil {
			t.Fatal(err)
		}
		events += len(recs)
	}
	bytes1, frames1, size1 := wal(), frames(), size()
	t.Logf("%d events: WALBytes %d → %d, log %d → %d frames of %d bytes, file %d → %d bytes; %.0f bytes of log per event",
		events, bytes0, bytes1, frames0, frames1, frame, size0, size1, float64(bytes1-bytes0)/float64(events))
	if got, want := bytes1-bytes0, (frames1-frames0)*frame; got != want {
		t.Errorf("WALBytes grew by %d, the log by %d frames = %d bytes", got, frames1-frames0, want)
	}
	if want := walHeader + frames1*frame; size1 != want {
		t.Errorf("log file is %d bytes, want its header and %d frames = %d", size1, frames1, want)
	}

	// Closed, it fails rather than reading a closed connection.
	pin.Rollback()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.WALBytes(ctx); err == nil {
		t.Error("WALBytes after Close: no error")
	}
}

func walEnv(t *testing.T, s *sqlite.Store) *herald.Environment {
	t.Helper()
	hash := uuid.New()
	env := &herald.Environment{ID: uuid.NewString(), Name: "wal", SecretKeyHash: hash[:], SigningKey: uuid.NewString(),
		Settings: herald.DefaultSettings(), CreatedAt: time.Now()}
	if err := s.CreateEnvironment(context.Background(), env); err != nil {
		t.Fatal(err)
	}
	return env
}

// walEvent is an event with one pending delivery, due now.
func walEvent(envID string, body []byte) herald.EventRecord {
	id, now := uuid.NewString(), time.Now()
	return herald.EventRecord{
		Event: herald.Event{ID: id, EnvironmentID: envID, Type: "sync", ConnectionID: "c", ProviderConfigKey: "p", Body: body, CreatedAt: now},
		Deliveries: []herald.Delivery{{ID: uuid.NewString(), EventID: id, EnvironmentID: envID, Type: "sync", ConnectionID: "c",
			ProviderConfigKey: "p", URL: "http://127.0.0.1:1/", Status: herald.StatusPending, CreatedAt: now, UpdatedAt: now, NextAttemptAt: &now}},
	}
}
